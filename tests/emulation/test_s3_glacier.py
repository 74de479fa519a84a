"""S3 archive restores: RestoreObject tiers on the clock, ``x-amz-restore``, InvalidObjectState."""
from __future__ import annotations

import datetime as dt
from typing import Any

import botocore.exceptions
import pytest

from pytest_drtest.emulation.s3 import S3Emulator
from pytest_drtest.emulation.s3.glacier import restore_expiry

BUCKET = "archive"
MINUTE, HOUR = 60.0, 3600.0


@pytest.fixture
def s3(emu_env: Any) -> Any:
    emu_env.emulation.add(S3Emulator(emu_env.emulation))
    client = emu_env.client("s3", "us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="cold.bin", Body=b"frozen", StorageClass="GLACIER")
    client.put_object(Bucket=BUCKET, Key="hot.bin", Body=b"warm")
    return client


def code(info: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def restore(s3: Any, tier: str | None = "Standard", days: int = 2, key: str = "cold.bin") -> int:
    request: dict[str, Any] = {"Days": days}
    if tier is not None:
        request["GlacierJobParameters"] = {"Tier": tier}
    answer = s3.restore_object(Bucket=BUCKET, Key=key, RestoreRequest=request)
    return int(answer["ResponseMetadata"]["HTTPStatusCode"])


@pytest.mark.parametrize(("tier", "low", "high"), [
    ("Expedited", 1 * MINUTE, 5 * MINUTE),
    ("Standard", 3 * HOUR, 5 * HOUR),
    ("Bulk", 5 * HOUR, 12 * HOUR),
])
def test_a_restore_takes_its_tier_time_and_reads_fail_until_then(
    emu_env: Any, s3: Any, tier: str, low: float, high: float
) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as before:
        s3.get_object(Bucket=BUCKET, Key="cold.bin")
    assert code(before) == "InvalidObjectState"
    assert "Restore" not in s3.head_object(Bucket=BUCKET, Key="cold.bin")

    assert restore(s3, tier) == 202
    emu_env.clock.sleep(low - 1)
    head = s3.head_object(Bucket=BUCKET, Key="cold.bin")
    assert head["Restore"] == 'ongoing-request="true"'
    assert head["StorageClass"] == "GLACIER"
    with pytest.raises(botocore.exceptions.ClientError) as during:
        s3.get_object(Bucket=BUCKET, Key="cold.bin")
    assert code(during) == "InvalidObjectState"

    emu_env.clock.sleep(high - low + 2)
    head = s3.head_object(Bucket=BUCKET, Key="cold.bin")
    assert head["Restore"].startswith('ongoing-request="false", expiry-date="')
    assert s3.get_object(Bucket=BUCKET, Key="cold.bin")["Body"].read() == b"frozen"


def test_the_restored_copy_expires_at_the_midnight_after_its_days(emu_env: Any, s3: Any) -> None:
    emu_env.clock.sleep(7 * HOUR)  # requested mid-day: the expiry rounds up to the next midnight UTC
    requested = emu_env.clock.datetime()
    assert restore(s3, "Expedited", days=1) == 202
    emu_env.clock.sleep(10 * MINUTE)
    expiry = restore_expiry(requested, 1)
    assert expiry.hour == expiry.minute == 0 and expiry > requested + dt.timedelta(days=1) - dt.timedelta(seconds=1)
    head = s3.head_object(Bucket=BUCKET, Key="cold.bin")
    assert head["Restore"] == f'ongoing-request="false", expiry-date="{expiry:%a, %d %b %Y %H:%M:%S} GMT"'
    emu_env.clock.sleep(emu_env.clock.seconds_at(expiry) - emu_env.clock.now() + 1)
    assert "Restore" not in s3.head_object(Bucket=BUCKET, Key="cold.bin")
    with pytest.raises(botocore.exceptions.ClientError) as after:
        s3.get_object(Bucket=BUCKET, Key="cold.bin")
    assert code(after) == "InvalidObjectState"


def test_a_second_request_while_running_conflicts_and_a_faster_tier_upgrades(emu_env: Any, s3: Any) -> None:
    assert restore(s3, "Bulk") == 202
    with pytest.raises(botocore.exceptions.ClientError) as again:
        restore(s3, "Bulk")
    assert code(again) == "RestoreAlreadyInProgress"
    assert again.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert restore(s3, "Expedited") == 202  # upgrading the speed of an in-progress restore
    emu_env.clock.sleep(5 * MINUTE + 1)
    assert s3.get_object(Bucket=BUCKET, Key="cold.bin")["Body"].read() == b"frozen"
    assert restore(s3, "Standard", days=3) == 200  # already restored: the expiry is recomputed


def test_the_default_tier_is_standard(emu_env: Any, s3: Any) -> None:
    assert restore(s3, tier=None) == 202
    emu_env.clock.sleep(3 * HOUR - 1)
    assert s3.head_object(Bucket=BUCKET, Key="cold.bin")["Restore"] == 'ongoing-request="true"'
    emu_env.clock.sleep(2 * HOUR + 2)
    assert 'ongoing-request="false"' in s3.head_object(Bucket=BUCKET, Key="cold.bin")["Restore"]


def test_an_unknown_tier_is_malformed_xml(s3: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        restore(s3, "Instant")
    assert code(info) == "MalformedXML"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_an_object_not_archived_is_already_in_the_active_tier(s3: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        restore(s3, "Standard", key="hot.bin")
    assert code(info) == "ObjectAlreadyInActiveTierError"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_deep_archive_has_no_expedited_tier(emu_env: Any, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="deep.bin", Body=b"deep", StorageClass="DEEP_ARCHIVE")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        restore(s3, "Expedited", key="deep.bin")
    assert code(info) == "InvalidArgument"
    assert restore(s3, "Standard", key="deep.bin") == 202
    emu_env.clock.sleep(12 * HOUR + 1)
    assert s3.get_object(Bucket=BUCKET, Key="deep.bin")["Body"].read() == b"deep"


def test_copy_of_an_archived_object_fails_until_restored(emu_env: Any, s3: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.copy_object(Bucket=BUCKET, Key="copy.bin", CopySource={"Bucket": BUCKET, "Key": "cold.bin"})
    assert code(info) == "ObjectNotInActiveTierError"
