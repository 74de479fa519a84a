"""Cross-Region Replication on the clock: deliveries with lag, held (never lost) during outages.

[S3-UG:replication-status]: a source version covered by a rule is ``PENDING`` until every
destination has it (``COMPLETED``), ``FAILED`` when a destination refuses it; while a destination
bucket or Region is unavailable the version stays ``PENDING`` and replication resumes when it
comes back. [S3-UG:replication-time-control]: most objects replicate within seconds, 99.99 %
within 15 minutes (``s3_replication_lag``). moto stores the configuration and replicates nothing.
"""
from __future__ import annotations

import itertools
import urllib.parse
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.core import Call, Emulation
from pytest_drtest.emulation.s3.history import ObjectHistory
from pytest_drtest.emulation.s3.models import (
    COMPLETED,
    FAILED,
    LEGACY_LOCATIONS,
    PENDING,
    REPLICA,
    Delivery,
    ReplicationRule,
    copy_source_bucket,
)


class CrossRegionReplication(ObjectHistory):
    """Buckets' home regions, their rules, and the deliveries of new versions to destinations."""

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._regions: dict[str, str] = {}
        self._rules: dict[str, list[ReplicationRule]] = {}
        self._status: dict[tuple[str, str, str], str] = {}
        self._outstanding: dict[tuple[str, str, str], set[str]] = {}
        self._deliveries: list[Delivery] = []
        self._held: list[Delivery] = []
        self._last_due: dict[tuple[str, str], float] = {}
        self._seq = itertools.count(1)
        # replicas keep the source's version ID: (bucket, key, moto's ID) <-> source ID
        self._source_ids: dict[tuple[str, str, str], str] = {}
        self._moto_ids: dict[tuple[str, str, str], str] = {}

    def bucket_region(self, bucket: str) -> str | None:
        """The bucket's home region (None when no such bucket exists)."""
        if bucket not in self._regions:
            try:
                location = self.backdoor("us-east-1").get_bucket_location(Bucket=bucket)
            except botocore.exceptions.ClientError:
                return None
            constraint = location.get("LocationConstraint")
            self._regions[bucket] = LEGACY_LOCATIONS.get(constraint, constraint)
        return self._regions[bucket]

    def _guard_bucket_regions(self, call: Call) -> None:
        """Fail like the outage when a bucket named by the call lives in a lost region."""
        if not self.world.lost_regions:
            return
        for bucket in (call.params.get("Bucket"), copy_source_bucket(call.params.get("CopySource"))):
            if not bucket:
                continue
            region = self.bucket_region(bucket)
            if region is not None and not self.world.region_up(region):
                raise botocore.exceptions.EndpointConnectionError(
                    endpoint_url=f"https://{bucket}.s3.{region}.amazonaws.com"
                )

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

    # -- deliveries -------------------------------------------------------------------------
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

    def _schedule(self, kind: str, bucket: str, key: str, version_id: str, rule: ReplicationRule) -> None:
        """Deliver after the modeled lag, first in first out per (source, destination) pair."""
        now = self.clock.now()
        pair = (bucket, rule.destination_bucket)
        # S3 RTC: most objects in seconds, 99.99 % within 15 min (profile ``s3_replication_lag``).
        lag = self.profile.sample("s3_replication_lag", stream=f"replicate:{bucket}->{rule.destination_bucket}")
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
        self.at(due, lambda: self._due(delivery), name=f"s3 replicate {bucket}/{key} -> {rule.destination_bucket}")

    def _blocked(self, delivery: Delivery) -> bool:
        """Held while either region is lost or the bucket's replication is paused. [S3-UG:replication-status]"""
        for bucket in (delivery.source_bucket, delivery.destination_bucket):
            region = self.bucket_region(bucket)
            if region is not None and not self.world.region_up(region):
                return True
            if self.world.is_paused("s3", bucket):
                return True
        return False

    def _due(self, delivery: Delivery) -> None:
        pair = (delivery.source_bucket, delivery.destination_bucket)
        queued_behind = any((d.source_bucket, d.destination_bucket) == pair for d in self._held)
        if queued_behind or self._blocked(delivery):
            delivery.state = "held"  # stays PENDING in the source; resumes later [S3-UG:replication-status]
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
            # Destination gone or unversioned: FAILED is final for that version [S3-UG:replication-status].
            delivery.state = "failed"
            if delivery.kind == "object":
                self._status[source_key] = FAILED
            return
        delivery.state = "delivered"
        delivery.delivered_at = self.clock.now()
        moto_id = answer.get("VersionId")
        self.note_version(delivery.destination_bucket, delivery.key, moto_id)
        if moto_id:
            # The replica keeps the source version's ID ([S3-UG:replication] "Why use replication").
            delivery.destination_version_id = delivery.source_version_id
            self._source_ids[(delivery.destination_bucket, delivery.key, moto_id)] = delivery.source_version_id
            self._moto_ids[(delivery.destination_bucket, delivery.key, delivery.source_version_id)] = moto_id
            self._status[(delivery.destination_bucket, delivery.key, delivery.source_version_id)] = REPLICA
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
