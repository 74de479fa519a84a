"""Clock times of object versions and delete markers, and the listeners of object changes.

moto stamps every version with the process's wall clock. The emulation records the clock time of
each version and delete marker it sees made — ``PutObject``, ``CopyObject``,
``CompleteMultipartUpload``, the markers of ``DeleteObject``/``DeleteObjects``, the replicas CRR
delivers, and what other emulators write through :meth:`ObjectHistory.note_version` — and answers
``LastModified`` in clock time ([BC:s3] ``ObjectVersion.LastModified``, ``DeleteMarkerEntry``,
``HeadObjectOutput``): a runbook that compares it with a restore time sees the modeled times.

Other emulators follow the objects of a bucket with :meth:`ObjectHistory.on_object_change`
(AWS Backup's continuous backups of S3, "AWS Backup Developer Guide, Amazon S3 backups": changes
are captured as they happen).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_drtest.emulation.core import Emulation, ServiceEmulator

#: The version id moto reports for an object of an unversioned bucket ([S3-UG:ManagingDelMarkers]: ``null``).
NULL_VERSION = "null"

ChangeListener = Callable[[str, str, float], None]


class ObjectHistory(ServiceEmulator):
    """``(bucket, key, moto's version id) -> clock time`` of every version seen made, and listeners."""

    service = "s3"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._written: dict[tuple[str, str, str], float] = {}
        self._change_listeners: list[ChangeListener] = []

    def version_time(self, bucket: str, key: str, version_id: str | None) -> float | None:
        """Clock time moto's version ``version_id`` (or a delete marker) was made; None if unseen."""
        return self._written.get((bucket, key, version_id or NULL_VERSION))

    def note_version(self, bucket: str, key: str, version_id: str | None, t: float | None = None) -> None:
        """Record that moto's version ``version_id`` of ``bucket/key`` was made at ``t`` (default:
        now), and tell the listeners the key changed (other emulators writing through the backdoor)."""
        self._written[(bucket, key, version_id or NULL_VERSION)] = self.clock.now() if t is None else t
        self._changed(bucket, key)

    def on_object_change(self, listener: ChangeListener) -> Callable[[], None]:
        """Call ``listener(bucket, key, clock time)`` after every change of an object's versions;
        returns a function that removes it."""
        self._change_listeners.append(listener)

        def remove() -> None:
            if listener in self._change_listeners:
                self._change_listeners.remove(listener)

        return remove

    def _changed(self, bucket: str, key: str) -> None:
        now = self.clock.now()
        for listener in list(self._change_listeners):
            listener(bucket, key, now)

    def _clock_last_modified(self, bucket: str, entry: dict[str, Any], key: str | None = None, *,
                             header: bool = False) -> None:
        """Rewrite ``entry["LastModified"]`` (a listing entry or a Head/GetObject answer, whose
        ``VersionId`` is still moto's) to the clock datetime of that version, when it is known:
        milliseconds in listings (ISO 8601), whole seconds in the ``Last-Modified`` header
        (RFC 1123) of ``HeadObject``/``GetObject``."""
        if "LastModified" not in entry:
            return
        t = self.version_time(bucket, key if key is not None else str(entry.get("Key", "")), entry.get("VersionId"))
        if t is not None:
            when = self.clock.datetime(t)
            entry["LastModified"] = when.replace(microsecond=0 if header else when.microsecond // 1000 * 1000)
