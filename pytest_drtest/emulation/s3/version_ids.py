"""Replicas keep their source version's ID.

[S3-UG:replication] "Why use replication": replicas retain all metadata of the source object,
such as its version ID ([S3-UG:replication-what-is-isnot-replicated] lists what is replicated).
moto gives every version it stores a new ID and cannot be told another, so the emulator keeps a
map per destination ``(bucket, key, moto's ID) <-> source ID`` and rewrites what callers see:
``ListObjectVersions`` (versions, delete markers, ``VersionIdMarker``/``NextVersionIdMarker``),
and the ``VersionId`` of ``GetObject``, ``HeadObject``, ``DeleteObject`` and the object tagging
calls, which also find a replica by its source ID.
"""
from __future__ import annotations

from typing import Any

import botocore.exceptions
from botocore import xform_name

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.s3.replication import CrossRegionReplication


class ReplicaVersionIds(CrossRegionReplication):
    """What callers see of replicas' version IDs: the source's."""

    def replica_version_id(self, bucket: str, key: str, version_id: str) -> str:
        """The ID a caller sees for moto's version ``version_id`` (the source's for a replica)."""
        return self._source_ids.get((bucket, key, version_id), version_id)

    def _moto_id(self, bucket: str, key: str, version_id: str | None) -> str | None:
        """moto's ID of the version a caller names by ``version_id`` (None: not a replica's)."""
        if not version_id:
            return None
        return self._moto_ids.get((bucket, key, version_id))

    # -- object calls naming a replica by its source ID -------------------------------------
    def _answer_for_replica(self, call: Call) -> dict[str, Any] | None:
        """Answer the call on moto's version when it names a replica by its source version ID."""
        self._guard_bucket_regions(call)
        bucket, key = call.params["Bucket"], call.params["Key"]
        moto_id = self._moto_id(bucket, key, call.params.get("VersionId"))
        if moto_id is None:
            return None
        region = self.bucket_region(bucket) or call.region
        params = dict(call.params, VersionId=moto_id)
        try:
            parsed: dict[str, Any] = getattr(self.backdoor(region), xform_name(call.operation))(**params)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
            raise AwsError(str(error.get("Code", "")), str(error.get("Message", "")), status) from None
        parsed.pop("ResponseMetadata", None)
        self._clock_last_modified(bucket, parsed, key, header=True)
        parsed["VersionId"] = call.params["VersionId"]
        if call.operation == "DeleteObject":
            self._forget_replica(bucket, key, call.params["VersionId"])
        elif call.operation in ("GetObject", "HeadObject"):
            replication = self._status.get((bucket, key, call.params["VersionId"]))
            if replication is not None:
                parsed["ReplicationStatus"] = replication
        return parsed

    def _forget_replica(self, bucket: str, key: str, source_id: str) -> None:
        moto_id = self._moto_ids.pop((bucket, key, source_id), None)
        if moto_id is not None:
            self._source_ids.pop((bucket, key, moto_id), None)
        self._status.pop((bucket, key, source_id), None)

    def _show_source_id(self, call: Call) -> None:
        """Rewrite the answer's ``VersionId`` of a replica to the source's."""
        assert call.parsed is not None
        version_id = call.parsed.get("VersionId")
        if version_id:
            call.parsed["VersionId"] = self.replica_version_id(call.params["Bucket"], call.params["Key"], version_id)

    # -- listings ---------------------------------------------------------------------------
    def before_ListObjectVersions(self, call: Call) -> dict[str, Any] | None:
        """A ``VersionIdMarker`` naming a replica by its source ID pages from moto's version."""
        self._guard_bucket_regions(call)
        bucket = call.params["Bucket"]
        moto_id = self._moto_id(bucket, call.params.get("KeyMarker", ""), call.params.get("VersionIdMarker"))
        if moto_id is None:
            return None
        region = self.bucket_region(bucket) or call.region
        parsed: dict[str, Any] = self.backdoor(region).list_object_versions(**dict(call.params, VersionIdMarker=moto_id))
        parsed.pop("ResponseMetadata", None)
        self._rewrite_listing(bucket, parsed)
        return parsed

    def after_ListObjectVersions(self, call: Call) -> None:
        assert call.parsed is not None
        self._rewrite_listing(call.params["Bucket"], call.parsed)

    def _rewrite_listing(self, bucket: str, parsed: dict[str, Any]) -> None:
        for entry in list(parsed.get("Versions") or []) + list(parsed.get("DeleteMarkers") or []):
            self._clock_last_modified(bucket, entry)
            if entry.get("VersionId"):
                entry["VersionId"] = self.replica_version_id(bucket, entry.get("Key", ""), entry["VersionId"])
        if parsed.get("VersionIdMarker") and parsed.get("KeyMarker") is not None:
            parsed["VersionIdMarker"] = self.replica_version_id(bucket, parsed["KeyMarker"], parsed["VersionIdMarker"])
        if parsed.get("NextVersionIdMarker") and parsed.get("NextKeyMarker") is not None:
            parsed["NextVersionIdMarker"] = self.replica_version_id(
                bucket, parsed["NextKeyMarker"], parsed["NextVersionIdMarker"]
            )
