"""S3: bucket home regions and Cross-Region Replication (CRR) on the run's clock.

moto stores a bucket's replication configuration and replicates nothing (``shared/NOTES.md``).
This emulator adds, following ``shared/AWS-SEMANTICS.md`` §2:

- each bucket's home region: a call naming a bucket whose region is lost fails like the outage
  (``EndpointConnectionError``), whatever region the client was made for;
- ``PutBucketReplication`` rejects an unversioned destination (moto only checks the source);
- new object versions and delete markers covered by an ``Enabled`` rule are delivered to the
  destination after a modeled lag (``s3_replication_lag``), with ``ReplicationStatus``
  ``PENDING`` → ``COMPLETED`` on the source and ``REPLICA`` on the destination;
- a delivery whose source or destination region is lost, or whose bucket is paused, is held in
  ``PENDING`` and applied, in order, when the region comes back or replication resumes.
"""
from __future__ import annotations

import itertools
import urllib.parse
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.core import AwsError, Call, ServiceEmulator

#: ``ReplicationStatus`` values as boto3 reports them (HeadObject/GetObject). [S3-UG:replication-status]
PENDING = "PENDING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
REPLICA = "REPLICA"

#: Objects in these storage classes are not replicated. [S3-UG:replication-what-is-isnot-replicated]
_ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})

#: ``GetBucketLocation`` answers ``None`` for us-east-1 and ``EU`` for the legacy eu-west-1.
_LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


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


class S3Emulator(ServiceEmulator):
    """Bucket home regions and CRR with modeled lag, holds during outages and pauses."""

    service = "s3"

    def __init__(self, emulation: Any) -> None:
        super().__init__(emulation)
        self._regions: dict[str, str] = {}
        self._rules: dict[str, list[ReplicationRule]] = {}
        self._status: dict[tuple[str, str, str], str] = {}
        self._outstanding: dict[tuple[str, str, str], set[str]] = {}
        self._deliveries: list[Delivery] = []
        self._timers: dict[int, Scheduled] = {}
        self._held: list[Delivery] = []
        self._last_due: dict[tuple[str, str], float] = {}
        self._seq = itertools.count(1)

    # -- public API -------------------------------------------------------------------------
    def bucket_region(self, bucket: str) -> str | None:
        """The bucket's home region (None when no such bucket exists)."""
        if bucket not in self._regions:
            try:
                location = self.backdoor("us-east-1").get_bucket_location(Bucket=bucket)
            except botocore.exceptions.ClientError:
                return None
            constraint = location.get("LocationConstraint")
            self._regions[bucket] = _LEGACY_LOCATIONS.get(constraint, constraint)
        return self._regions[bucket]

    def replication_status(self, bucket: str, key: str, version_id: str) -> str | None:
        """``PENDING``/``COMPLETED``/``FAILED`` on a source version, ``REPLICA`` on a replica."""
        return self._status.get((bucket, key, version_id))

    def pending(self, bucket: str) -> int:
        """Deliveries from ``bucket`` not yet applied (in their lag, or held by an outage/pause)."""
        return sum(1 for d in self._deliveries if d.source_bucket == bucket and d.state in ("pending", "held"))

    def deliveries(self, bucket: str) -> list[Delivery]:
        """Every delivery from or to ``bucket``, in write order (for reports: lag, what is pending)."""
        return [d for d in self._deliveries if bucket in (d.source_bucket, d.destination_bucket)]

    def rules(self, bucket: str) -> list[ReplicationRule]:
        """The replication rules cached for ``bucket`` (empty when it has none)."""
        return list(self._rules.get(bucket, []))

    # -- the outage of a bucket's home region -----------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # Every S3 operation that names a bucket goes to that bucket's regional endpoint: the
        # hub looks up ``before_<Operation>``, and the operations without a hook of their own
        # get the region guard.
        if name.startswith("before_"):
            return self._guard_bucket_regions
        raise AttributeError(name)

    def _guard_bucket_regions(self, call: Call) -> None:
        """Fail like the outage when a bucket named by the call lives in a lost region."""
        if not self.world.lost_regions:
            return None
        for bucket in (call.params.get("Bucket"), copy_source_bucket(call.params.get("CopySource"))):
            if not bucket:
                continue
            region = self.bucket_region(bucket)
            if region is not None and not self.world.region_up(region):
                raise botocore.exceptions.EndpointConnectionError(
                    endpoint_url=f"https://{bucket}.s3.{region}.amazonaws.com"
                )
        return None

    def before_CreateBucket(self, call: Call) -> None:
        region = (call.params.get("CreateBucketConfiguration") or {}).get("LocationConstraint") or call.region
        if not self.world.region_up(region):
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=f"https://s3.{region}.amazonaws.com")
        return None

    def after_CreateBucket(self, call: Call) -> None:
        location = (call.params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        self._regions[call.params["Bucket"]] = _LEGACY_LOCATIONS.get(location, location) if location else call.region

    def after_DeleteBucket(self, call: Call) -> None:
        self._regions.pop(call.params["Bucket"], None)
        self._rules.pop(call.params["Bucket"], None)

    # -- replication configuration ----------------------------------------------------------
    def before_PutBucketReplication(self, call: Call) -> None:
        """Reject a destination that does not exist or is not versioned; moto checks only the source."""
        self._guard_bucket_regions(call)
        bucket = call.params["Bucket"]
        s3 = self.backdoor("us-east-1")
        if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
            return None  # moto answers the source check itself (same text as AWS, §2.1)
        for raw in call.params.get("ReplicationConfiguration", {}).get("Rules", []):
            destination = bucket_from_arn(raw.get("Destination", {}).get("Bucket", ""))
            try:
                status = s3.get_bucket_versioning(Bucket=destination).get("Status")
            except botocore.exceptions.ClientError:
                # (unverified) AWS's exact text for a missing destination was not found.
                raise AwsError("InvalidRequest", "Destination bucket must exist.", 400) from None
            if status != "Enabled":
                # [S3-UG:replication]; AWS-SEMANTICS §2.1
                raise AwsError("InvalidRequest", "Destination bucket must have versioning enabled.", 400)
        return None

    def after_PutBucketReplication(self, call: Call) -> None:
        rules = call.params.get("ReplicationConfiguration", {}).get("Rules", [])
        self._rules[call.params["Bucket"]] = [ReplicationRule.from_api(raw) for raw in rules]

    def after_DeleteBucketReplication(self, call: Call) -> None:
        self._rules.pop(call.params["Bucket"], None)

    def _winning_rules(self, bucket: str, key: str, tags: dict[str, str]) -> list[ReplicationRule]:
        """Per destination, the Enabled rule that applies: the highest ``Priority`` wins. [BC:s3] Priority"""
        winners: dict[str, ReplicationRule] = {}
        for rule in self._rules.get(bucket, []):
            if not rule.enabled or not rule.covers(key, tags):
                continue
            current = winners.get(rule.destination_bucket)
            if current is None or rule.priority > current.priority:
                winners[rule.destination_bucket] = rule
        return list(winners.values())

    # -- writes in the source ---------------------------------------------------------------
    def after_PutObject(self, call: Call) -> None:
        self._object_written(call, call.params["Bucket"], call.params["Key"])

    def after_CopyObject(self, call: Call) -> None:
        self._object_written(call, call.params["Bucket"], call.params["Key"])

    def after_CompleteMultipartUpload(self, call: Call) -> None:
        self._object_written(call, call.params["Bucket"], call.params["Key"])

    def _object_written(self, call: Call, bucket: str, key: str) -> None:
        """A new version exists: schedule its replication if an Enabled rule covers it."""
        assert call.parsed is not None
        version_id = call.parsed.get("VersionId")
        if not version_id or not self._rules.get(bucket):
            return
        if call.params.get("StorageClass") in _ARCHIVE_CLASSES:
            return  # [S3-UG:replication-what-is-isnot-replicated]: GLACIER/DEEP_ARCHIVE are not replicated
        tags: dict[str, str] = {}
        if any(rule.tags for rule in self._rules[bucket]):
            tag_set = self.backdoor("us-east-1").get_object_tagging(Bucket=bucket, Key=key, VersionId=version_id)
            tags = {tag["Key"]: tag["Value"] for tag in tag_set.get("TagSet", [])}
        rules = self._winning_rules(bucket, key, tags)
        if not rules:
            return
        source = (bucket, key, version_id)
        self._status[source] = PENDING  # [S3-UG:replication-status]
        self._outstanding[source] = {rule.destination_bucket for rule in rules}
        for rule in rules:
            self._schedule("object", bucket, key, version_id, rule)

    def after_DeleteObject(self, call: Call) -> None:
        assert call.parsed is not None
        if call.params.get("VersionId"):
            return  # a version-id delete is never replicated (§2.4)
        if call.parsed.get("DeleteMarker") and call.parsed.get("VersionId"):
            self._delete_marker_written(call.params["Bucket"], call.params["Key"], call.parsed["VersionId"])

    def after_DeleteObjects(self, call: Call) -> None:
        assert call.parsed is not None
        bucket = call.params["Bucket"]
        by_version = {obj["Key"]: obj.get("VersionId") for obj in call.params.get("Delete", {}).get("Objects", [])}
        for deleted in call.parsed.get("Deleted", []):
            if by_version.get(deleted.get("Key")):
                continue  # named a version: never replicated (§2.4)
            if deleted.get("DeleteMarker") and deleted.get("DeleteMarkerVersionId"):
                self._delete_marker_written(bucket, deleted["Key"], deleted["DeleteMarkerVersionId"])

    def _delete_marker_written(self, bucket: str, key: str, marker_version_id: str) -> None:
        """A plain DELETE made a marker: replicate it where the applying rule says so. §2.4"""
        for rule in self._winning_rules(bucket, key, {}):
            if rule.replicates_delete_markers():
                self._schedule("delete-marker", bucket, key, marker_version_id, rule)

    def _schedule(self, kind: str, bucket: str, key: str, version_id: str, rule: ReplicationRule) -> None:
        """Deliver after the modeled lag, first in first out per (source, destination) pair."""
        now = self.clock.now()
        pair = (bucket, rule.destination_bucket)
        # S3 RTC: most objects in seconds, 99.99 % within 15 min (profile ``s3_replication_lag``).
        lag = self.profile.sample("s3_replication_lag", stream="s3.replication")
        due = max(now + lag, self._last_due.get(pair, now))
        self._last_due[pair] = due
        delivery = Delivery(
            seq=next(self._seq),
            kind=kind,
            source_bucket=bucket,
            key=key,
            source_version_id=version_id,
            destination_bucket=rule.destination_bucket,
            storage_class=rule.storage_class,
            written_at=now,
            due_at=due,
        )
        self._deliveries.append(delivery)
        self._timers[delivery.seq] = self.clock.call_at(
            due, lambda: self._due(delivery), name=f"s3 replicate {bucket}/{key} -> {rule.destination_bucket}"
        )

    # -- deliveries -------------------------------------------------------------------------
    def _blocked(self, delivery: Delivery) -> bool:
        """Held while either region is lost or the bucket's replication is paused. §2.3"""
        for bucket in (delivery.source_bucket, delivery.destination_bucket):
            region = self.bucket_region(bucket)
            if region is not None and not self.world.region_up(region):
                return True
            if self.world.is_paused("s3", bucket):
                return True
        return False

    def _due(self, delivery: Delivery) -> None:
        self._timers.pop(delivery.seq, None)
        pair = (delivery.source_bucket, delivery.destination_bucket)
        queued_behind = any((d.source_bucket, d.destination_bucket) == pair for d in self._held)
        if queued_behind or self._blocked(delivery):
            delivery.state = "held"  # stays PENDING in the source; resumes later (§2.3)
            self._held.append(delivery)
            return
        self._apply(delivery)

    def _release_held(self) -> None:
        """Apply the held deliveries that can go now, in write order per (source, destination)."""
        still_held: list[Delivery] = []
        blocked_pairs: set[tuple[str, str]] = set()
        for delivery in sorted(self._held, key=lambda d: d.seq):
            pair = (delivery.source_bucket, delivery.destination_bucket)
            if pair in blocked_pairs or self._blocked(delivery):
                blocked_pairs.add(pair)
                still_held.append(delivery)
                continue
            self._apply(delivery)
        self._held = still_held

    def _apply(self, delivery: Delivery) -> None:
        """Write the replica (or the delete marker) into the destination through the backdoor."""
        source_region = self.bucket_region(delivery.source_bucket) or "us-east-1"
        destination_region = self.bucket_region(delivery.destination_bucket) or "us-east-1"
        source, destination = self.backdoor(source_region), self.backdoor(destination_region)
        source_key = (delivery.source_bucket, delivery.key, delivery.source_version_id)
        put: dict[str, Any] | None = None
        if delivery.kind == "object":
            try:
                put = self._copy_version(source, delivery)
            except botocore.exceptions.ClientError:
                # The version was deleted (by version id) before it was replicated: nothing to send.
                delivery.state = "dropped"
                self._outstanding.pop(source_key, None)
                self._status.pop(source_key, None)
                return
        try:
            if put is not None:
                answer = destination.put_object(**put)
            else:
                answer = destination.delete_object(Bucket=delivery.destination_bucket, Key=delivery.key)
        except botocore.exceptions.ClientError:
            # Destination gone or unversioned: FAILED is final for that version (§2.3).
            delivery.state = "failed"
            if delivery.kind == "object":
                self._status[source_key] = FAILED
            return
        delivery.state = "delivered"
        delivery.delivered_at = self.clock.now()
        delivery.destination_version_id = answer.get("VersionId")
        if delivery.destination_version_id:
            self._status[(delivery.destination_bucket, delivery.key, delivery.destination_version_id)] = REPLICA
        if delivery.kind == "object":
            outstanding = self._outstanding.get(source_key, set())
            outstanding.discard(delivery.destination_bucket)
            if not outstanding and self._status.get(source_key) == PENDING:
                # COMPLETED only once every destination has it. [BC:s3] HeadObjectOutput.ReplicationStatus
                self._status[source_key] = COMPLETED

    def _copy_version(self, source: Any, delivery: Delivery) -> dict[str, Any]:
        """``put_object`` arguments replicating the source version: body, type, metadata, tags, class."""
        obj = source.get_object(Bucket=delivery.source_bucket, Key=delivery.key, VersionId=delivery.source_version_id)
        tag_set = source.get_object_tagging(
            Bucket=delivery.source_bucket, Key=delivery.key, VersionId=delivery.source_version_id
        ).get("TagSet", [])
        put: dict[str, Any] = {
            "Bucket": delivery.destination_bucket,
            "Key": delivery.key,
            "Body": obj["Body"].read(),
            "Metadata": obj.get("Metadata", {}),
        }
        if obj.get("ContentType"):
            put["ContentType"] = obj["ContentType"]
        storage_class = delivery.storage_class or obj.get("StorageClass")
        if storage_class:
            put["StorageClass"] = storage_class  # the rule's class, else the source's. [BC:s3] Destination
        if tag_set:
            put["Tagging"] = urllib.parse.urlencode([(tag["Key"], tag["Value"]) for tag in tag_set])
        return put

    # -- what readers see -------------------------------------------------------------------
    def after_HeadObject(self, call: Call) -> None:
        self._report_status(call)

    def after_GetObject(self, call: Call) -> None:
        self._report_status(call)

    def _report_status(self, call: Call) -> None:
        assert call.parsed is not None
        version_id = call.parsed.get("VersionId") or call.params.get("VersionId")
        status = self._status.get((call.params["Bucket"], call.params["Key"], version_id or ""))
        if status is not None:
            call.parsed["ReplicationStatus"] = status  # x-amz-replication-status. [S3-UG:replication-status]

    # -- world and teardown -----------------------------------------------------------------
    def on_world_change(self, what: str, name: str) -> None:
        if what in ("region-restored", "replication-resumed") and self._held:
            self._release_held()

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
