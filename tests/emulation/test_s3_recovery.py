"""Recovering a versioned bucket as of a time: undelete (delete markers removed), copy previous versions."""
from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from pytest_drtest.emulation.s3 import S3Emulator
from pytest_drtest.recovery.s3 import recover_versions, versions_by_key

BUCKET = "docs"


@pytest.fixture
def s3(emu_env: Any) -> Any:
    emu_env.emulation.add(S3Emulator(emu_env.emulation))
    client = emu_env.client("s3", "us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


def body(s3: Any, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_listings_and_heads_answer_in_clock_time(emu_env: Any, s3: Any) -> None:
    emu_env.clock.sleep(3600.25)
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"1")
    written = emu_env.clock.datetime()
    emu_env.clock.sleep(60)
    s3.delete_object(Bucket=BUCKET, Key="a")
    deleted = emu_env.clock.datetime()
    history = versions_by_key(s3, BUCKET)["a"]
    assert [e["DeleteMarker"] for e in history] == [True, False]
    assert history[1]["LastModified"] == written.replace(microsecond=250000)  # milliseconds in listings
    assert history[0]["LastModified"] == deleted.replace(microsecond=250000)
    head = s3.head_object(Bucket=BUCKET, Key="a", VersionId=history[1]["VersionId"])
    assert head["LastModified"] == written.replace(microsecond=0)  # whole seconds in the header


def test_objects_as_of_the_time_come_back_and_later_versions_stay(emu_env: Any, s3: Any) -> None:
    ids = {key: s3.put_object(Bucket=BUCKET, Key=key, Body=f"{key}-1".encode())["VersionId"] for key in ("a", "b", "c")}
    emu_env.clock.sleep(100)
    s3.put_object(Bucket=BUCKET, Key="c", Body=b"c-2")
    emu_env.clock.sleep(100)
    as_of = emu_env.clock.datetime()
    emu_env.clock.sleep(100)
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}]})  # the fault: delete markers
    s3.delete_object(Bucket=BUCKET, Key="b")  # a second marker on top
    s3.put_object(Bucket=BUCKET, Key="c", Body=b"c-3")
    s3.put_object(Bucket=BUCKET, Key="d", Body=b"d-1")  # did not exist at the time

    done = recover_versions(s3, BUCKET, as_of)

    assert (done.undeleted, done.copied, done.markers_removed) == (["a", "b"], ["c"], 3)
    assert done.unrecoverable == []
    assert [body(s3, k) for k in ("a", "b", "c", "d")] == [b"a-1", b"b-1", b"c-2", b"d-1"]
    # undeleted objects are their old versions again (same ids); a copy is a new version on top
    assert s3.head_object(Bucket=BUCKET, Key="a")["VersionId"] == ids["a"]
    history = versions_by_key(s3, BUCKET)
    assert not any(e["DeleteMarker"] for e in history["a"] + history["b"])
    assert len(history["c"]) == 4  # c-1, c-2, c-3 untouched, and the copy of c-2 on top
    assert history["c"][0]["IsLatest"]
    assert "DeleteMarkers" not in s3.list_object_versions(Bucket=BUCKET, Prefix="a")


def test_keys_whose_versions_are_gone_are_reported_unrecoverable(emu_env: Any, s3: Any) -> None:
    version = s3.put_object(Bucket=BUCKET, Key="gone", Body=b"x")["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="kept", Body=b"y")
    emu_env.clock.sleep(10)
    as_of = emu_env.clock.datetime()
    emu_env.clock.sleep(10)
    s3.delete_object(Bucket=BUCKET, Key="gone", VersionId=version)  # permanently: delete-objects(versions=True)
    s3.delete_object(Bucket=BUCKET, Key="kept")

    done = recover_versions(s3, BUCKET, as_of, keys=["gone", "kept"])

    assert done.undeleted == ["kept"] and done.unrecoverable == ["gone"]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.head_object(Bucket=BUCKET, Key="gone")
    assert info.value.response["Error"]["Code"] == "404"
    assert body(s3, "kept") == b"y"


def test_a_recovery_as_of_now_changes_nothing(emu_env: Any, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"1")
    emu_env.clock.sleep(1)
    done = recover_versions(s3, BUCKET, emu_env.clock.datetime())
    assert done.unchanged == ["a"] and done.recovered == []
    assert len(versions_by_key(s3, BUCKET)["a"]) == 1
