"""S3 replication state: the rules as S3 applies them and each delivery to a destination."""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

#: ``ReplicationStatus`` values as boto3 reports them (HeadObject/GetObject). [S3-UG:replication-status]
PENDING = "PENDING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
REPLICA = "REPLICA"

#: Objects in these storage classes are not replicated. [S3-UG:replication-what-is-isnot-replicated]
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})

#: ``GetBucketLocation`` answers ``None`` for us-east-1 and ``EU`` for the legacy eu-west-1.
LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


@dataclass(frozen=True)
class ReplicationRule:
    """One rule of a bucket's replication configuration, as S3 applies it. [BC:s3] ReplicationRule"""

    rule_id: str
    enabled: bool
    priority: int
    prefix: str
    tags: tuple[tuple[str, str], ...]
    legacy: bool  # V1 schema: a top-level ``Prefix`` and no ``Filter``
    delete_marker_replication: bool
    destination_bucket: str
    storage_class: str | None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> ReplicationRule:
        destination = raw.get("Destination", {})
        legacy = "Filter" not in raw
        prefix = raw.get("Prefix", "") if legacy else ""
        tags: list[tuple[str, str]] = []
        filter_ = raw.get("Filter") or {}
        if "Prefix" in filter_:
            prefix = filter_["Prefix"] or ""
        if "Tag" in filter_:
            tags.append((filter_["Tag"]["Key"], filter_["Tag"]["Value"]))
        if "And" in filter_:
            prefix = filter_["And"].get("Prefix", "") or ""
            tags.extend((tag["Key"], tag["Value"]) for tag in filter_["And"].get("Tags", []))
        return cls(
            rule_id=raw.get("ID", ""),
            enabled=raw.get("Status") == "Enabled",
            priority=int(raw.get("Priority", 0)),
            prefix=prefix,
            tags=tuple(tags),
            legacy=legacy,
            delete_marker_replication=raw.get("DeleteMarkerReplication", {}).get("Status") == "Enabled",
            destination_bucket=bucket_from_arn(destination.get("Bucket", "")),
            storage_class=destination.get("StorageClass"),
        )

    def covers(self, key: str, tags: dict[str, str]) -> bool:
        """Whether the rule's filter selects an object with this key and these tags."""
        return key.startswith(self.prefix) and all(tags.get(k) == v for k, v in self.tags)

    def replicates_delete_markers(self) -> bool:
        """V1 rules replicate user delete markers always; V2 rules only when asked.

        [S3-UG:replication-what-is-isnot-replicated]; [S3-UG:delete-marker-replication]
        """
        return self.legacy or self.delete_marker_replication


@dataclass
class Delivery:
    """One replication of a source version (object or delete marker) to one destination bucket."""

    seq: int
    kind: str  # "object" | "delete-marker"
    source_bucket: str
    key: str
    source_version_id: str
    destination_bucket: str
    storage_class: str | None
    written_at: float  # clock time of the write in the source
    due_at: float  # clock time the modeled lag ends
    state: str = "pending"  # pending | held | delivered | failed | dropped
    delivered_at: float | None = None  # clock time the destination has it
    destination_version_id: str | None = None

    @property
    def lag(self) -> float | None:
        """Seconds from the source write to the destination write (None until delivered)."""
        return None if self.delivered_at is None else self.delivered_at - self.written_at


def bucket_from_arn(arn: str) -> str:
    """``arn:aws:s3:::my-bucket`` -> ``my-bucket`` (a plain name is returned as is)."""
    return arn.split(":::", 1)[1] if ":::" in arn else arn


def copy_source_bucket(source: Any) -> str | None:
    """The bucket named by a ``CopySource`` parameter (a dict or ``bucket/key[?versionId=]``)."""
    if isinstance(source, dict):
        return source.get("Bucket")
    if isinstance(source, str) and source:
        return urllib.parse.unquote(source.lstrip("/").split("/", 1)[0])
    return None
