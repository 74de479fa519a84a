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

:func:`copy_back_from_replica` recovers from the other way back, the Cross-Region Replication
replica: [S3-UG:replication-what-is-isnot-replicated] — replication is one-way (source to
destination), delete markers are not replicated unless the rule enables ``DeleteMarkerReplication``,
and "If you specify an object version ID to delete in a DELETE request, Amazon S3 deletes that
object version in the source bucket. But it doesn't replicate the deletion in the destination
buckets." So the (versioned) replica still holds each object's version as of before the deletes,
even those deleted with every version in the source; the copy-back reads it from the replica's
history (``ListObjectVersions``, ``GetObject`` with ``VersionId``: a replica keeps the source's
version ID, [S3-UG:replication] "Why use replication"; the source's own history, when the deletes
left it, names the version) and writes it into the source bucket as a new
current version (``PutObject``: body, content type, user metadata, tags). An object whose version
had not reached the replica before the deletes (replication lag) is not there to copy: lost.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

__all__ = ["ReplicaCopy", "VersionRecovery", "copy_back_from_replica", "recover_versions", "versions_by_key"]


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


@dataclass
class ReplicaCopy:
    """What :func:`copy_back_from_replica` did, by key."""

    copied: list[str] = field(default_factory=list)  # the replica's version as of the time written back
    missing: list[str] = field(default_factory=list)  # the replica holds no version of it at the time

    def describe(self, bucket: str, replica: str) -> str:
        text = f"{bucket}: {len(self.copied)} objects copied back from the replica {replica}"
        if self.missing:
            text += f", {len(self.missing)} not in the replica as of before the deletes (lost)"
        return text


def copy_back_from_replica(replica_s3: Any, replica: str, s3: Any, bucket: str, as_of: _dt.datetime,
                           keys: list[str]) -> ReplicaCopy:
    """Write each of ``keys``'s version as of ``as_of`` in the replica bucket back into ``bucket``.

    ``replica_s3`` is a client of the replica's region, ``s3`` one of the source bucket's. The
    version chosen is, when the source bucket's history still names it (plain deletes leave it),
    the source's version as of ``as_of`` found in the replica by its version ID (a replica keeps
    it); otherwise (every version deleted) the replica's newest entry with ``LastModified <= as_of``
    (when the replica was written). A key whose version is not in the replica, or whose entry then
    is a delete marker or nothing, is ``missing`` (nothing is written for it).
    """
    done = ReplicaCopy()
    history = versions_by_key(replica_s3, replica)
    source_history = versions_by_key(s3, bucket)
    for key in sorted(keys):
        entries = history.get(key, [])
        wanted = next((e for e in source_history.get(key, []) if e["LastModified"] <= as_of), None)
        if wanted is not None and not wanted["DeleteMarker"]:
            then = next((e for e in entries if e["VersionId"] == wanted["VersionId"]), None)
        else:
            then = next((e for e in entries if e["LastModified"] <= as_of), None)
        if then is None or then["DeleteMarker"]:
            done.missing.append(key)
            continue
        version = then["VersionId"]
        obj = replica_s3.get_object(Bucket=replica, Key=key, VersionId=version)
        put: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": obj["Body"].read()}
        if obj.get("ContentType"):
            put["ContentType"] = obj["ContentType"]
        if obj.get("Metadata"):
            put["Metadata"] = obj["Metadata"]
        tags = replica_s3.get_object_tagging(Bucket=replica, Key=key, VersionId=version).get("TagSet", [])
        if tags:
            put["Tagging"] = urlencode([(t["Key"], t["Value"]) for t in tags])
        s3.put_object(**put)
        done.copied.append(key)
    return done
