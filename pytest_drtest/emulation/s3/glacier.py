"""Restores of archived objects (S3 Glacier Flexible Retrieval, S3 Glacier Deep Archive) on the clock.

[S3-UG:restoring-objects-retrieval-options]: an object in ``GLACIER`` is restored in 1-5 minutes
with the ``Expedited`` tier, 3-5 hours with ``Standard`` (the default) and 5-12 hours with
``Bulk``; an object in ``DEEP_ARCHIVE`` within 12 hours (``Standard``) or 48 hours (``Bulk``), and
``Expedited`` is not available for it. [BC:s3] RestoreObject: the first request is answered ``202
Accepted``; a request for an object already restored ``200 OK`` (its expiry is recomputed); a
request while a restore is running ``409 RestoreAlreadyInProgress`` — unless it asks for a faster
tier, which upgrades the running restore ([S3-UG:restoring-objects-retrieval-options], "Upgrading
the speed of an in-progress restore"); an object that is not archived ``403
ObjectAlreadyInActiveTierError``. ``HeadObject`` reports ``Restore: ongoing-request="true"`` while
the restore runs, then ``ongoing-request="false", expiry-date="..."``: the request time plus
``Days``, rounded up to the next midnight UTC ([S3-UG:restoring-objects]). Until then, and after
the expiry, ``GetObject`` fails with ``403 InvalidObjectState`` (moto's own answer until the
emulator tells it the copy is restored; the emulator's after the expiry).

moto restores at once; here the restore completes after a draw of the tier's profile key.
"""
from __future__ import annotations

import datetime as _dt
import email.utils
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from pytest_drtest.clock import Scheduled
from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.s3.history import NULL_VERSION
from pytest_drtest.emulation.s3.replication import CrossRegionReplication

#: The tiers of each archive class and the profile key of their restore time.
TIER_KEYS: dict[str, dict[str, str]] = {
    "GLACIER": {"Expedited": "s3_glacier_expedited", "Standard": "s3_glacier_standard", "Bulk": "s3_glacier_bulk"},
    "DEEP_ARCHIVE": {"Standard": "s3_deep_archive_standard", "Bulk": "s3_deep_archive_bulk"},
}
#: [BC:s3] ``Tier``: the values the API knows; fastest first.
TIERS = ("Expedited", "Standard", "Bulk")
DEFAULT_TIER = "Standard"  # [BC:s3] GlacierJobParameters.Tier


@dataclass
class ArchiveRestore:
    """One restore of an archived version: requested, running, done (a temporary copy), expired."""

    bucket: str
    key: str
    version_id: str  # moto's
    storage_class: str
    tier: str
    days: int
    requested_at: float
    done_at: float
    handle: Scheduled | None = None
    completed: bool = False


def restore_expiry(clock_datetime: _dt.datetime, days: int) -> _dt.datetime:
    """Request time + ``days``, rounded up to the next 00:00 UTC ([S3-UG:restoring-objects])."""
    when = clock_datetime.astimezone(_dt.UTC) + _dt.timedelta(days=days)
    midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == when else midnight + _dt.timedelta(days=1)


class GlacierRestores(CrossRegionReplication):
    """``RestoreObject`` of ``GLACIER``/``DEEP_ARCHIVE`` objects with each tier's modeled time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._archive_restores: dict[tuple[str, str, str], ArchiveRestore] = {}

    def archive_restore(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None:
        """The restore of ``bucket/key`` (its current version unless ``version_id``, moto's): tier,
        storage class and clock times (``requested_at``, ``done_at``, ``expires_at``); None if none."""
        restore = self._find_restore(bucket, key, version_id)
        if restore is None:
            return None
        return {"tier": restore.tier, "storage_class": restore.storage_class, "requested_at": restore.requested_at,
                "done_at": restore.done_at, "expires_at": self._expiry(restore), "completed": restore.completed,
                "days": restore.days}

    def _find_restore(self, bucket: str, key: str, version_id: str | None) -> ArchiveRestore | None:
        if version_id is not None:
            return self._archive_restores.get((bucket, key, version_id))
        found = [r for (b, k, _), r in self._archive_restores.items() if (b, k) == (bucket, key)]
        return max(found, key=lambda r: r.requested_at) if found else None

    def _expiry(self, restore: ArchiveRestore) -> float:
        return self.clock.seconds_at(restore_expiry(self.clock.datetime(restore.requested_at), restore.days))

    # -- RestoreObject ---------------------------------------------------------------------------
    def before_RestoreObject(self, call: Call) -> dict[str, Any] | None:
        self._guard_bucket_regions(call)
        bucket, key = call.params["Bucket"], call.params["Key"]
        request = call.params.get("RestoreRequest") or {}
        if request.get("Type") == "SELECT":
            return None  # S3 Select restores: as moto has them
        region = self.bucket_region(bucket) or call.region
        head_params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if call.params.get("VersionId"):
            head_params["VersionId"] = call.params["VersionId"]
        try:
            head = self.backdoor(region).head_object(**head_params)
        except botocore.exceptions.ClientError:
            return None  # moto answers the missing key or version
        storage_class = head.get("StorageClass") or "STANDARD"
        tier = (request.get("GlacierJobParameters") or {}).get("Tier") or request.get("Tier") or DEFAULT_TIER
        if tier not in TIERS:
            # S3 validates the request body against its schema (assumed: MalformedXML, as for any bad enum)
            raise AwsError("MalformedXML", f"The XML you provided was not well-formed or did not validate against our "
                                           f"published schema (Tier {tier!r}: expected one of {', '.join(TIERS)})")
        if storage_class not in TIER_KEYS:
            raise AwsError("ObjectAlreadyInActiveTierError", "Restore is not allowed for the object's current storage "
                           f"class {storage_class}: it is not archived", 403)
        if tier not in TIER_KEYS[storage_class]:
            # [S3-UG:restoring-objects-retrieval-options]: no Expedited retrieval from S3 Glacier Deep Archive
            # (assumed code: InvalidArgument)
            raise AwsError("InvalidArgument", f"{tier} retrievals are not available for the {storage_class} storage "
                           f"class; expected one of {', '.join(TIER_KEYS[storage_class])}")
        days = request.get("Days")
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            # (assumed code) an archive restore makes a temporary copy for Days days
            raise AwsError("InvalidArgument", f"Days must be a positive integer for the restore of an archived object, got {days!r}")
        version = str(head.get("VersionId") or NULL_VERSION)
        current = self._archive_restores.get((bucket, key, version))
        now = self.clock.now()
        if current is not None and not current.completed:
            if TIERS.index(tier) >= TIERS.index(current.tier):
                raise AwsError("RestoreAlreadyInProgress", "Object restore is already in progress", 409)
            self._upgrade(current, tier, days)
            return self._accepted(202)
        if current is not None and now < self._expiry(current):
            current.requested_at, current.days = now, days  # "the expiry is recomputed" ([BC:s3] RestoreObject)
            return self._accepted(200)
        restore = ArchiveRestore(bucket, key, version, storage_class, tier, days, now, now)
        self._archive_restores[(bucket, key, version)] = restore
        self._schedule_restore(restore, now + self._draw(restore, tier))
        return self._accepted(202)

    def _draw(self, restore: ArchiveRestore, tier: str) -> float:
        key = TIER_KEYS[restore.storage_class][tier]
        return self.profile.sample(key, stream=f"restore:{restore.bucket}/{restore.key}@{tier}")

    def _upgrade(self, restore: ArchiveRestore, tier: str, days: int) -> None:
        """A faster tier for a running restore: done at the earlier of the two ends."""
        faster = self.clock.now() + self._draw(restore, tier)
        restore.tier, restore.days = tier, days
        if faster < restore.done_at:
            if restore.handle is not None:
                restore.handle.cancel()
            self._schedule_restore(restore, faster)

    def _schedule_restore(self, restore: ArchiveRestore, done_at: float) -> None:
        restore.done_at = done_at
        restore.handle = self.at(done_at, lambda: self._complete_restore(restore),
                                 name=f"s3 restore {restore.bucket}/{restore.key} ({restore.tier})")

    def _complete_restore(self, restore: ArchiveRestore) -> None:
        """The temporary copy exists: moto serves the object from now on (until the emulator's expiry)."""
        region = self.bucket_region(restore.bucket) or "us-east-1"
        try:
            self.backdoor(region).restore_object(Bucket=restore.bucket, Key=restore.key,
                                                 RestoreRequest={"Days": restore.days})
        except botocore.exceptions.ClientError:
            return  # the object is gone meanwhile
        restore.completed = True
        self._changed(restore.bucket, restore.key)

    @staticmethod
    def _accepted(status: int) -> dict[str, Any]:
        return {"ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}}

    # -- what readers see ------------------------------------------------------------------------
    def _report_restore(self, call: Call) -> None:
        """``Restore`` of HeadObject for a version being (or already) restored. [BC:s3] HeadObjectOutput.Restore"""
        assert call.parsed is not None
        restore = self._archive_restores.get(
            (call.params["Bucket"], call.params["Key"], str(call.parsed.get("VersionId") or NULL_VERSION)))
        if restore is None:
            return
        if not restore.completed:
            call.parsed["Restore"] = 'ongoing-request="true"'
        elif self.clock.now() < self._expiry(restore):
            expiry = email.utils.format_datetime(self.clock.datetime(self._expiry(restore)), usegmt=True)
            call.parsed["Restore"] = f'ongoing-request="false", expiry-date="{expiry}"'
        else:
            call.parsed.pop("Restore", None)  # the temporary copy expired

    def _refuse_expired_copy(self, call: Call) -> None:
        """After its expiry a restored copy is gone: reading the archived object fails again."""
        bucket, key = call.params.get("Bucket"), call.params.get("Key")
        if not bucket or not key or not self._archive_restores:
            return
        restore = self._find_restore(bucket, key, None)
        if restore is not None and restore.completed and self.clock.now() >= self._expiry(restore):
            raise AwsError("InvalidObjectState", "The operation is not valid for the object's storage class", 403)
