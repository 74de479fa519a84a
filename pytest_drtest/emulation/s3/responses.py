"""The S3 emulator: bucket home regions, replication configuration, writes and reads."""
from __future__ import annotations

import urllib.parse
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.s3.glacier import GlacierRestores
from pytest_drtest.emulation.s3.models import (
    ARCHIVE_CLASSES,
    LEGACY_LOCATIONS,
    PENDING,
    ReplicationRule,
    bucket_from_arn,
)
from pytest_drtest.emulation.s3.version_ids import ReplicaVersionIds


class S3Emulator(GlacierRestores, ReplicaVersionIds):
    """Bucket home regions and CRR with modeled lag (replicas keep the source's version IDs),
    holds during outages and pauses; clock times of versions; archive restores by tier."""

    # -- the outage of a bucket's home region -----------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # Every S3 operation that names a bucket goes to that bucket's regional endpoint: the
        # hub looks up ``before_<Operation>``, and the operations without a hook of their own
        # get the region guard.
        if name.startswith("before_"):
            return self._guard_bucket_regions
        raise AttributeError(name)

    def before_CreateBucket(self, call: Call) -> None:
        region = (call.params.get("CreateBucketConfiguration") or {}).get("LocationConstraint") or call.region
        if not self.world.region_up(region):
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=f"https://s3.{region}.amazonaws.com")

    def after_CreateBucket(self, call: Call) -> None:
        location = (call.params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        self._regions[call.params["Bucket"]] = LEGACY_LOCATIONS.get(location, location) if location else call.region

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
            return  # moto answers the source check itself (same text as AWS, [S3-UG:replication])
        for raw in call.params.get("ReplicationConfiguration", {}).get("Rules", []):
            destination = bucket_from_arn(raw.get("Destination", {}).get("Bucket", ""))
            try:
                status = s3.get_bucket_versioning(Bucket=destination).get("Status")
            except botocore.exceptions.ClientError:
                # (unverified) AWS's exact text for a missing destination was not found.
                raise AwsError("InvalidRequest", "Destination bucket must exist.", 400) from None
            if status != "Enabled":
                # [S3-UG:replication]
                raise AwsError("InvalidRequest", "Destination bucket must have versioning enabled.", 400)

    def after_PutBucketReplication(self, call: Call) -> None:
        rules = call.params.get("ReplicationConfiguration", {}).get("Rules", [])
        self._rules[call.params["Bucket"]] = [ReplicationRule.from_api(raw) for raw in rules]

    def after_DeleteBucketReplication(self, call: Call) -> None:
        self._rules.pop(call.params["Bucket"], None)

    # -- writes in the source ---------------------------------------------------------------
    def after_PutObject(self, call: Call) -> None:
        self._object_written(call, call.params["Bucket"], call.params["Key"])

    def after_CopyObject(self, call: Call) -> None:
        self._object_written(call, call.params["Bucket"], call.params["Key"])

    def after_CompleteMultipartUpload(self, call: Call) -> None:
        self._object_written(call, call.params["Bucket"], call.params["Key"])

    def before_CopyObject(self, call: Call) -> None:
        self._guard_bucket_regions(call)
        source = call.params.get("CopySource")
        if isinstance(source, str) and "/" in source.lstrip("/"):
            bucket, _, key = urllib.parse.unquote(source.lstrip("/").split("?", 1)[0]).partition("/")
            source = {"Bucket": bucket, "Key": key}
        if not isinstance(source, dict) or not source.get("Bucket") or not source.get("Key"):
            return
        try:
            self._refuse_expired_copy(Call(call.service, call.operation, call.region, dict(source), call.context))
        except AwsError:
            # [BC:s3] CopyObject: an archived source must be restored first
            raise AwsError("ObjectNotInActiveTierError", "The source object of the COPY action is not in the active "
                           "tier and is only stored in Amazon S3 Glacier.", 403) from None

    def _object_written(self, call: Call, bucket: str, key: str) -> None:
        """A new version exists: note its clock time; schedule its replication if an Enabled rule covers it."""
        assert call.parsed is not None
        version_id = call.parsed.get("VersionId")
        self.note_version(bucket, key, version_id)
        if not version_id or not self._rules.get(bucket):
            return
        if call.params.get("StorageClass") in ARCHIVE_CLASSES:
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

    def before_DeleteObject(self, call: Call) -> dict[str, Any] | None:
        return self._answer_for_replica(call)

    def after_DeleteObject(self, call: Call) -> None:
        assert call.parsed is not None
        if call.params.get("VersionId"):
            self._changed(call.params["Bucket"], call.params["Key"])
            return  # a version-id delete is never replicated [S3-UG:replication-what-is-isnot-replicated]
        self.note_version(call.params["Bucket"], call.params["Key"], call.parsed.get("VersionId"))
        if call.parsed.get("DeleteMarker") and call.parsed.get("VersionId"):
            self._delete_marker_written(call.params["Bucket"], call.params["Key"], call.parsed["VersionId"])

    def after_DeleteObjects(self, call: Call) -> None:
        assert call.parsed is not None
        bucket = call.params["Bucket"]
        by_version = {obj["Key"]: obj.get("VersionId") for obj in call.params.get("Delete", {}).get("Objects", [])}
        for deleted in call.parsed.get("Deleted", []):
            if by_version.get(deleted.get("Key")):
                self._changed(bucket, str(deleted.get("Key")))
                continue  # named a version: never replicated
            self.note_version(bucket, str(deleted.get("Key")), deleted.get("DeleteMarkerVersionId"))
            if deleted.get("DeleteMarker") and deleted.get("DeleteMarkerVersionId"):
                self._delete_marker_written(bucket, deleted["Key"], deleted["DeleteMarkerVersionId"])

    def _delete_marker_written(self, bucket: str, key: str, marker_version_id: str) -> None:
        """A plain DELETE made a marker: replicate it where the applying rule says so. [S3-UG:delete-marker-replication]"""
        for rule in self._winning_rules(bucket, key, {}):
            if rule.replicates_delete_markers():
                self._schedule("delete-marker", bucket, key, marker_version_id, rule)

    # -- what readers see -------------------------------------------------------------------
    def before_HeadObject(self, call: Call) -> dict[str, Any] | None:
        return self._answer_for_replica(call)

    def before_GetObject(self, call: Call) -> dict[str, Any] | None:
        self._guard_bucket_regions(call)
        self._refuse_expired_copy(call)
        return self._answer_for_replica(call)

    before_GetObjectTagging = before_HeadObject
    before_PutObjectTagging = before_HeadObject
    before_DeleteObjectTagging = before_HeadObject

    def after_HeadObject(self, call: Call) -> None:
        assert call.parsed is not None
        self._clock_last_modified(call.params["Bucket"], call.parsed, call.params["Key"], header=True)
        self._report_restore(call)
        self._show_source_id(call)
        self._report_status(call)

    def after_GetObject(self, call: Call) -> None:
        assert call.parsed is not None
        self._clock_last_modified(call.params["Bucket"], call.parsed, call.params["Key"], header=True)
        self._show_source_id(call)
        self._report_status(call)

    def after_GetObjectTagging(self, call: Call) -> None:
        self._show_source_id(call)

    after_PutObjectTagging = after_GetObjectTagging
    after_DeleteObjectTagging = after_GetObjectTagging

    def _report_status(self, call: Call) -> None:
        assert call.parsed is not None
        version_id = call.parsed.get("VersionId") or call.params.get("VersionId")
        status = self._status.get((call.params["Bucket"], call.params["Key"], version_id or ""))
        if status is not None:
            call.parsed["ReplicationStatus"] = status  # x-amz-replication-status. [S3-UG:replication-status]

    # -- the world --------------------------------------------------------------------------
    def on_world_change(self, what: str, name: str) -> None:
        if what in ("region-restored", "replication-resumed") and self._held:
            self._release_held()
