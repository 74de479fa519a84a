"""S3 emulation: bucket home regions and Cross-Region Replication."""
from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from pytest_drtest.emulation.s3 import S3Emulator

SOURCE, DESTINATION = "orders-src", "orders-dst"
ROLE = "arn:aws:iam::123456789012:role/replication"
LAG = 5.0


@pytest.fixture
def s3(emu_env: Any) -> S3Emulator:
    emu_env.profile.override("s3_replication_lag", LAG, origin="test")
    emulator = S3Emulator(emu_env.emulation)
    emu_env.emulation.add(emulator)
    return emulator


def make_bucket(emu_env: Any, name: str, region: str, *, versioned: bool = True) -> Any:
    client = emu_env.client("s3", region)
    if region == "us-east-1":
        client.create_bucket(Bucket=name)
    else:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return client


def rule(prefix: str = "", *, priority: int = 1, delete_markers: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "ID": f"rule-{prefix or 'all'}",
        "Status": "Enabled",
        "Priority": priority,
        "Filter": {"Prefix": prefix},
        "DeleteMarkerReplication": {"Status": "Enabled" if delete_markers else "Disabled"},
        "Destination": {"Bucket": f"arn:aws:s3:::{DESTINATION}", **extra},
    }


@pytest.fixture
def pair(emu_env: Any, s3: S3Emulator) -> tuple[Any, Any]:
    """A versioned source in us-east-1 replicating everything to a versioned destination in us-west-2."""
    src = make_bucket(emu_env, SOURCE, "us-east-1")
    dst = make_bucket(emu_env, DESTINATION, "us-west-2")
    src.put_bucket_replication(
        Bucket=SOURCE,
        ReplicationConfiguration={
            "Role": ROLE,
            "Rules": [rule("del/", priority=2, delete_markers=True), rule(priority=1, StorageClass="STANDARD_IA")],
        },
    )
    return src, dst


def missing(client: Any, key: str, **kwargs: Any) -> bool:
    try:
        client.head_object(Bucket=DESTINATION, Key=key, **kwargs)
    except botocore.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"] in ("404", "NoSuchKey")
    return False


def test_replica_appears_only_after_the_lag_with_statuses(emu_env: Any, s3: S3Emulator, pair: Any) -> None:
    src, dst = pair
    put = src.put_object(
        Bucket=SOURCE, Key="a.txt", Body=b"hello", ContentType="text/plain",
        Metadata={"owner": "ops"}, Tagging="team=dr",
    )
    assert src.head_object(Bucket=SOURCE, Key="a.txt")["ReplicationStatus"] == "PENDING"
    emu_env.clock.sleep(LAG - 0.1)
    assert missing(dst, "a.txt")
    assert s3.pending(SOURCE) == 1

    emu_env.clock.sleep(0.1)
    replica = dst.get_object(Bucket=DESTINATION, Key="a.txt")
    assert replica["Body"].read() == b"hello"
    assert replica["ReplicationStatus"] == "REPLICA"
    assert replica["ContentType"] == "text/plain"
    assert replica["Metadata"] == {"owner": "ops"}
    assert replica["StorageClass"] == "STANDARD_IA"  # the rule's Destination.StorageClass
    assert dst.get_object_tagging(Bucket=DESTINATION, Key="a.txt")["TagSet"] == [{"Key": "team", "Value": "dr"}]
    head = src.head_object(Bucket=SOURCE, Key="a.txt", VersionId=put["VersionId"])
    assert head["ReplicationStatus"] == "COMPLETED"
    assert s3.replication_status(SOURCE, "a.txt", put["VersionId"]) == "COMPLETED"
    assert s3.pending(SOURCE) == 0
    [delivery] = s3.deliveries(SOURCE)
    assert (delivery.written_at, delivery.delivered_at, delivery.state) == (0.0, LAG, "delivered")
    assert s3.replication_status(DESTINATION, "a.txt", delivery.destination_version_id or "") == "REPLICA"


def test_copy_and_multipart_versions_are_replicated(emu_env: Any, s3: S3Emulator, pair: Any) -> None:
    src, dst = pair
    src.put_object(Bucket=SOURCE, Key="one", Body=b"1")
    src.copy_object(Bucket=SOURCE, Key="two", CopySource={"Bucket": SOURCE, "Key": "one"})
    upload = src.create_multipart_upload(Bucket=SOURCE, Key="big")
    part = src.upload_part(Bucket=SOURCE, Key="big", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 10)
    src.complete_multipart_upload(
        Bucket=SOURCE, Key="big", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    emu_env.clock.sleep(LAG)
    assert dst.get_object(Bucket=DESTINATION, Key="two")["Body"].read() == b"1"
    assert dst.get_object(Bucket=DESTINATION, Key="big")["Body"].read() == b"x" * 10


def test_objects_written_before_the_rule_are_not_replicated(emu_env: Any, s3: S3Emulator) -> None:
    src = make_bucket(emu_env, SOURCE, "us-east-1")
    dst = make_bucket(emu_env, DESTINATION, "us-west-2")
    src.put_object(Bucket=SOURCE, Key="old", Body=b"old")
    src.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration={"Role": ROLE, "Rules": [rule()]})
    src.put_object(Bucket=SOURCE, Key="new", Body=b"new")
    emu_env.clock.sleep(60)
    assert missing(dst, "old")
    assert "ReplicationStatus" not in src.head_object(Bucket=SOURCE, Key="old")
    assert dst.head_object(Bucket=DESTINATION, Key="new")["ReplicationStatus"] == "REPLICA"


def test_a_replica_is_not_replicated_again(emu_env: Any, s3: S3Emulator, pair: Any) -> None:
    src, dst = pair
    third = make_bucket(emu_env, "orders-third", "eu-west-1")
    dst.put_bucket_replication(
        Bucket=DESTINATION,
        ReplicationConfiguration={
            "Role": ROLE,
            "Rules": [{**rule(), "Destination": {"Bucket": "arn:aws:s3:::orders-third"}}],
        },
    )
    src.put_object(Bucket=SOURCE, Key="k", Body=b"v")
    emu_env.clock.sleep(10 * LAG)
    assert dst.head_object(Bucket=DESTINATION, Key="k")["ReplicationStatus"] == "REPLICA"
    with pytest.raises(botocore.exceptions.ClientError):
        third.head_object(Bucket="orders-third", Key="k")


def test_delete_marker_replicated_only_when_the_rule_enables_it(emu_env: Any, s3: S3Emulator, pair: Any) -> None:
    src, dst = pair
    src.put_object(Bucket=SOURCE, Key="del/on", Body=b"1")
    src.put_object(Bucket=SOURCE, Key="keep/off", Body=b"2")
    emu_env.clock.sleep(LAG)
    src.delete_object(Bucket=SOURCE, Key="del/on")
    src.delete_object(Bucket=SOURCE, Key="keep/off")
    emu_env.clock.sleep(LAG - 1)
    assert not missing(dst, "del/on")  # the marker is still in flight
    emu_env.clock.sleep(1)
    assert missing(dst, "del/on")
    markers = dst.list_object_versions(Bucket=DESTINATION, Prefix="del/on")["DeleteMarkers"]
    assert [m["IsLatest"] for m in markers] == [True]
    assert not missing(dst, "keep/off")


def test_version_id_deletes_are_never_replicated(emu_env: Any, s3: S3Emulator, pair: Any) -> None:
    src, dst = pair
    first = src.put_object(Bucket=SOURCE, Key="del/v", Body=b"1")
    src.put_object(Bucket=SOURCE, Key="del/v", Body=b"2")
    emu_env.clock.sleep(LAG)
    src.delete_object(Bucket=SOURCE, Key="del/v", VersionId=first["VersionId"])
    src.delete_objects(Bucket=SOURCE, Delete={"Objects": [{"Key": "del/v"}]})  # a marker: replicated (batch)
    emu_env.clock.sleep(LAG)
    versions = dst.list_object_versions(Bucket=DESTINATION, Prefix="del/v")
    assert len(versions["Versions"]) == 2  # the version-id delete did not reach the destination
    assert len(versions["DeleteMarkers"]) == 1


def test_delivery_held_while_destination_region_is_lost(emu_env: Any, s3: S3Emulator, pair: Any) -> None:
    src, dst = pair
    put = src.put_object(Bucket=SOURCE, Key="x", Body=b"1")
    emu_env.clock.sleep(1)
    emu_env.emulation.world.lose_region("us-west-2")
    emu_env.clock.sleep(600)
    assert s3.pending(SOURCE) == 1
    assert src.head_object(Bucket=SOURCE, Key="x")["ReplicationStatus"] == "PENDING"
    emu_env.emulation.world.restore_region("us-west-2")
    assert dst.head_object(Bucket=DESTINATION, Key="x")["ReplicationStatus"] == "REPLICA"
    assert s3.replication_status(SOURCE, "x", put["VersionId"]) == "COMPLETED"
    [delivery] = s3.deliveries(SOURCE)
    assert (delivery.due_at, delivery.delivered_at) == (LAG, 601.0)


def test_delivery_held_while_source_region_is_lost(emu_env: Any, s3: S3Emulator, pair: Any) -> None:
    src, dst = pair
    src.put_object(Bucket=SOURCE, Key="x", Body=b"1")
    emu_env.emulation.world.lose_region("us-east-1")
    emu_env.clock.sleep(60)
    assert missing(dst, "x")
    emu_env.emulation.world.restore_region("us-east-1")
    assert dst.get_object(Bucket=DESTINATION, Key="x")["Body"].read() == b"1"


def test_deliveries_held_while_paused_are_applied_in_order_on_resume(emu_env: Any, s3: S3Emulator, pair: Any) -> None:
    src, dst = pair
    world = emu_env.emulation.world
    world.pause("s3", SOURCE)
    src.put_object(Bucket=SOURCE, Key="k", Body=b"first")
    emu_env.clock.sleep(1)
    src.put_object(Bucket=SOURCE, Key="k", Body=b"second")
    emu_env.clock.sleep(120)
    assert missing(dst, "k")
    assert s3.pending(SOURCE) == 2
    world.resume("s3", SOURCE)
    assert s3.pending(SOURCE) == 0
    assert dst.get_object(Bucket=DESTINATION, Key="k")["Body"].read() == b"second"
    assert len(dst.list_object_versions(Bucket=DESTINATION, Prefix="k")["Versions"]) == 2


def test_unversioned_destination_is_rejected(emu_env: Any, s3: S3Emulator) -> None:
    src = make_bucket(emu_env, SOURCE, "us-east-1")
    make_bucket(emu_env, DESTINATION, "us-west-2", versioned=False)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        src.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration={"Role": ROLE, "Rules": [rule()]})
    error = caught.value.response
    assert error["Error"] == {"Code": "InvalidRequest", "Message": "Destination bucket must have versioning enabled."}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unversioned_source_is_rejected_by_the_source_check_first(emu_env: Any, s3: S3Emulator) -> None:
    src = make_bucket(emu_env, SOURCE, "us-east-1", versioned=False)
    make_bucket(emu_env, DESTINATION, "us-west-2", versioned=False)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        src.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration={"Role": ROLE, "Rules": [rule()]})
    assert caught.value.response["Error"]["Code"] == "InvalidRequest"
    assert "Versioning must be 'Enabled'" in caught.value.response["Error"]["Message"]


def test_bucket_region_outage_fails_calls_from_any_region(emu_env: Any, s3: S3Emulator) -> None:
    make_bucket(emu_env, DESTINATION, "us-west-2")
    make_bucket(emu_env, SOURCE, "us-east-1")
    east = emu_env.client("s3", "us-east-1")
    assert s3.bucket_region(DESTINATION) == "us-west-2"
    emu_env.emulation.world.lose_region("us-west-2")
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        east.put_object(Bucket=DESTINATION, Key="k", Body=b"1")
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        east.copy_object(Bucket=SOURCE, Key="k", CopySource=f"{DESTINATION}/k")
    east.put_object(Bucket=SOURCE, Key="k", Body=b"1")  # a bucket in a live region still answers
    emu_env.emulation.world.restore_region("us-west-2")
    east.put_object(Bucket=DESTINATION, Key="k", Body=b"1")


def test_tag_filter_and_priority_choose_the_rule(emu_env: Any, s3: S3Emulator) -> None:
    src = make_bucket(emu_env, SOURCE, "us-east-1")
    dst = make_bucket(emu_env, DESTINATION, "us-west-2")
    tagged = {
        "ID": "tagged",
        "Status": "Enabled",
        "Priority": 5,
        "Filter": {"Tag": {"Key": "dr", "Value": "yes"}},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {"Bucket": f"arn:aws:s3:::{DESTINATION}", "StorageClass": "GLACIER_IR"},
    }
    src.put_bucket_replication(
        Bucket=SOURCE, ReplicationConfiguration={"Role": ROLE, "Rules": [tagged, rule("logs/", priority=1)]}
    )
    src.put_object(Bucket=SOURCE, Key="logs/a", Body=b"1", Tagging="dr=yes")
    src.put_object(Bucket=SOURCE, Key="logs/b", Body=b"2")
    src.put_object(Bucket=SOURCE, Key="other", Body=b"3")
    emu_env.clock.sleep(LAG)
    assert dst.head_object(Bucket=DESTINATION, Key="logs/a")["StorageClass"] == "GLACIER_IR"  # priority 5 wins
    assert "StorageClass" not in dst.head_object(Bucket=DESTINATION, Key="logs/b")  # STANDARD
    assert missing(dst, "other")
    assert "ReplicationStatus" not in src.head_object(Bucket=SOURCE, Key="other")


def test_delete_replication_configuration_stops_replication(emu_env: Any, s3: S3Emulator, pair: Any) -> None:
    src, dst = pair
    src.delete_bucket_replication(Bucket=SOURCE)
    src.put_object(Bucket=SOURCE, Key="late", Body=b"1")
    emu_env.clock.sleep(60)
    assert missing(dst, "late")
    assert s3.deliveries(SOURCE) == []


def test_replicas_keep_the_source_version_id_in_listings_heads_and_gets(emu_env: Any, s3: S3Emulator, pair: Any) -> None:
    # [S3-UG:replication] "Why use replication": replicas retain the source's version IDs.
    src, dst = pair
    first = src.put_object(Bucket=SOURCE, Key="del/k", Body=b"1")["VersionId"]
    second = src.put_object(Bucket=SOURCE, Key="del/k", Body=b"2")["VersionId"]
    emu_env.clock.sleep(LAG)
    marker = src.delete_object(Bucket=SOURCE, Key="del/k")["VersionId"]  # replicated: the del/ rule enables it
    emu_env.clock.sleep(LAG)

    listing = dst.list_object_versions(Bucket=DESTINATION, Prefix="del/k")
    older = dst.get_object(Bucket=DESTINATION, Key="del/k", VersionId=first)
    head = dst.head_object(Bucket=DESTINATION, Key="del/k", VersionId=second)
    tags = dst.get_object_tagging(Bucket=DESTINATION, Key="del/k", VersionId=first)

    assert sorted(v["VersionId"] for v in listing["Versions"]) == sorted([first, second])
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == [marker]
    assert (older["VersionId"], older["Body"].read(), older["ReplicationStatus"]) == (first, b"1", "REPLICA")
    assert (head["VersionId"], head["ReplicationStatus"]) == (second, "REPLICA")
    assert tags["VersionId"] == first
    assert [d.destination_version_id for d in s3.deliveries(SOURCE)] == [first, second, marker]


def test_the_current_replica_answers_with_the_source_version_id_and_pages_by_it(
    emu_env: Any, s3: S3Emulator, pair: Any
) -> None:
    src, dst = pair
    ids = [src.put_object(Bucket=SOURCE, Key="p", Body=str(i).encode())["VersionId"] for i in range(3)]
    emu_env.clock.sleep(LAG)

    current = dst.get_object(Bucket=DESTINATION, Key="p")
    page = dst.list_object_versions(Bucket=DESTINATION, Prefix="p", MaxKeys=1)
    rest = dst.list_object_versions(
        Bucket=DESTINATION, Prefix="p", KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"]
    )

    assert current["VersionId"] == ids[-1]
    assert [v["VersionId"] for v in page["Versions"]] == [ids[-1]]
    assert page["NextVersionIdMarker"] == ids[-1]
    assert [v["VersionId"] for v in rest["Versions"]] == [ids[1], ids[0]]


def test_a_replica_deleted_by_its_source_version_id_is_gone_from_the_destination_only(
    emu_env: Any, s3: S3Emulator, pair: Any
) -> None:
    src, dst = pair
    version = src.put_object(Bucket=SOURCE, Key="d", Body=b"1")["VersionId"]
    emu_env.clock.sleep(LAG)

    deleted = dst.delete_object(Bucket=DESTINATION, Key="d", VersionId=version)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        dst.head_object(Bucket=DESTINATION, Key="d", VersionId=version)

    assert deleted["VersionId"] == version
    assert excinfo.value.response["Error"]["Code"] == "404"
    assert dst.list_object_versions(Bucket=DESTINATION, Prefix="d").get("Versions", []) == []
    assert src.head_object(Bucket=SOURCE, Key="d", VersionId=version)["ReplicationStatus"] == "COMPLETED"
