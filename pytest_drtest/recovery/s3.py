"""Recovering S3 objects with versioning: the objects as of a time back as current versions.

[S3-UG:RestoringPreviousVersions]: "You can use versioning to retrieve previous versions of an
object": copy a previous version into the same bucket (the copy becomes the current version; every
other version stays), or permanently delete the versions above it. [S3-UG:ManagingDelMarkers]:
"To undelete an object, you must delete the delete marker" — deleting a delete marker by its
version ID makes the version below it current again, with its own version ID.

:func:`recover_versions` does both, per key: when only delete markers were made after the time,
it deletes them (the object is back as it was, same version ID); when newer versions exist, it
copies the version as of the time on top (a new current version; the later versions stay in the
history, untouched). A key that did not exist at the time, or whose versions are all gone (deleted
by version ID), is not touched: a bucket cannot give it back (an AWS Backup recovery point can).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["VersionRecovery", "recover_versions", "versions_by_key"]


@dataclass
class VersionRecovery:
    """What :func:`recover_versions` did, by key."""

    undeleted: list[str] = field(default_factory=list)  # delete markers removed
    copied: list[str] = field(default_factory=list)  # the version as of the time copied on top
    unchanged: list[str] = field(default_factory=list)  # the current version already was it
    unrecoverable: list[str] = field(default_factory=list)  # asked for, but no version at the time
    markers_removed: int = 0

    @property
    def recovered(self) -> list[str]:
        return sorted(self.undeleted + self.copied)

    def describe(self, bucket: str) -> str:
        text = (f"{bucket}: {len(self.undeleted)} undeleted ({self.markers_removed} delete markers removed), "
                f"{len(self.copied)} previous versions copied, {len(self.unchanged)} unchanged")
        if self.unrecoverable:
            text += f", {len(self.unrecoverable)} not recoverable from the bucket (no version left)"
        return text


def versions_by_key(s3: Any, bucket: str, prefix: str = "") -> dict[str, list[dict[str, Any]]]:
    """Every version and delete marker of ``bucket`` (``ListObjectVersions``, all pages), per key,
    newest first; a delete marker's entry has ``"DeleteMarker": True``."""
    found: dict[str, list[dict[str, Any]]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Versions", []):
            found.setdefault(entry["Key"], []).append({**entry, "DeleteMarker": False})
        for entry in page.get("DeleteMarkers", []):
            found.setdefault(entry["Key"], []).append({**entry, "DeleteMarker": True})
    for entries in found.values():
        # newest first; IsLatest breaks a tie of LastModified (several versions in one millisecond)
        entries.sort(key=lambda e: (e["LastModified"], bool(e.get("IsLatest"))), reverse=True)
    return found


def recover_versions(s3: Any, bucket: str, as_of: _dt.datetime, *, keys: list[str] | None = None,
                     prefix: str = "") -> VersionRecovery:
    """Make each key's version as of ``as_of`` (``LastModified <= as_of``) its current version again.

    ``keys``: only these keys (e.g. the ones a fault deleted), else every key under ``prefix``.
    Versions and delete markers made after ``as_of`` are kept, except delete markers above the
    version, which are removed (an undelete); keys that did not exist at ``as_of`` are left alone.
    """
    done = VersionRecovery()
    history = versions_by_key(s3, bucket, prefix)
    for key in sorted(keys if keys is not None else history):
        entries = history.get(key, [])
        later = [e for e in entries if e["LastModified"] > as_of]
        then = next((e for e in entries if e["LastModified"] <= as_of), None)
        if then is None or then["DeleteMarker"]:
            if keys is not None:
                done.unrecoverable.append(key)  # asked for, but the bucket holds no version of it at the time
            continue
        if not later:
            done.unchanged.append(key)
        elif all(e["DeleteMarker"] for e in later):
            for marker in later:
                s3.delete_object(Bucket=bucket, Key=key, VersionId=marker["VersionId"])
                done.markers_removed += 1
            done.undeleted.append(key)
        else:
            s3.copy_object(Bucket=bucket, Key=key,
                           CopySource={"Bucket": bucket, "Key": key, "VersionId": then["VersionId"]})
            done.copied.append(key)
    return done
