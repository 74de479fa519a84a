"""Data Lifecycle Manager: EBS snapshot policies on the clock, cross-Region copies, retention."""
from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_drtest.emulation.dlm import install_dlm

REGION, DR = "us-east-1", "us-west-2"
ROLE = "arn:aws:iam::123456789012:role/AWSDataLifecycleManagerDefaultRole"
HOUR = 3600.0
START_DELAY = 600.0  # dlm_start_delay, fixed by the tests
SNAPSHOT_TIME = 300.0  # ebs_snapshot_time, fixed by the tests
COPY_TIME = 1200.0  # ebs_snapshot_copy_time, fixed by the tests


@pytest.fixture
def world(emu_env: Any) -> Any:
    env = emu_env
    env.dlm_emulator = install_dlm(env.emulation)
    env.profile.override("dlm_start_delay", f"{START_DELAY:g}s", origin="test")
    env.profile.override("ebs_snapshot_time", f"{SNAPSHOT_TIME:g}s", origin="test")
    env.profile.override("ebs_snapshot_copy_time", f"{COPY_TIME:g}s", origin="test")
    env.dlm = env.client("dlm", REGION)
    env.ec2 = env.client("ec2", REGION)
    env.ec2_dr = env.client("ec2", DR)
    env.volume = env.ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8, TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "backup", "Value": "daily"}, {"Key": "team", "Value": "orders"}]}])["VolumeId"]
    env.other = env.ec2.create_volume(AvailabilityZone=f"{REGION}b", Size=8)["VolumeId"]
    return env


def schedule(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Name": "twice-daily",
        "CreateRule": {"Interval": 12, "IntervalUnit": "HOURS", "Times": ["09:00"]},
        "RetainRule": {"Count": 2},
        "CopyTags": True,
        "TagsToAdd": [{"Key": "made-by", "Value": "dlm"}],
    }
    base.update(overrides)
    return base


def create(world: Any, *schedules: dict[str, Any], state: str = "ENABLED", resource: str = "VOLUME", **details: Any) -> str:
    return str(world.dlm.create_lifecycle_policy(
        ExecutionRoleArn=ROLE, Description="orders volumes", State=state,
        PolicyDetails={"ResourceTypes": [resource], "TargetTags": [{"Key": "backup", "Value": "daily"}],
                       "Schedules": list(schedules or [schedule()]), **details},
    )["PolicyId"])


def snapshots(ec2: Any) -> list[dict[str, Any]]:
    return sorted(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"], key=lambda s: s["StartTime"])


def tags(row: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in row.get("Tags") or []}


def test_a_policy_snapshots_its_target_volumes_within_the_hour_after_the_scheduled_time(world: Any, answers_in_shape: Any) -> None:
    answers_in_shape("ec2")
    policy_id = create(world)
    clock = world.clock

    clock.sleep(9 * HOUR + START_DELAY - 1)  # the clock starts at 00:00 UTC
    before = snapshots(world.ec2)
    clock.sleep(1)
    made = snapshots(world.ec2)
    clock.sleep(SNAPSHOT_TIME)
    done = snapshots(world.ec2)

    assert before == []
    assert [s["VolumeId"] for s in made] == [world.volume]  # the untagged volume is not targeted
    assert (made[0]["State"], made[0]["Progress"]) == ("pending", "0%")
    assert made[0]["StartTime"] == clock.datetime(9 * HOUR + START_DELAY)
    assert tags(made[0]) == {"aws:dlm:lifecycle-policy-id": policy_id, "aws:dlm:lifecycle-schedule-name": "twice-daily",
                             "dlm:managed": "true", "backup": "daily", "team": "orders", "made-by": "dlm"}
    assert done[0]["State"] == "completed"
    assert world.dlm_emulator.next_run(policy_id, "twice-daily") == 21 * HOUR + START_DELAY


def test_count_based_retention_deletes_the_oldest_beyond_the_count(world: Any) -> None:
    policy_id = create(world)

    world.clock.sleep(33 * HOUR + START_DELAY)  # 09:00, 21:00, 09:00 the next day
    left = snapshots(world.ec2)
    every = world.dlm_emulator.managed_snapshots(policy_id, live=False)

    assert [s.created_at for s in every] == [9 * HOUR + START_DELAY, 21 * HOUR + START_DELAY, 33 * HOUR + START_DELAY]
    assert every[0].deleted_at == 33 * HOUR + START_DELAY
    assert [s["SnapshotId"] for s in left] == [s.snapshot_id for s in every[1:]]


def test_cross_region_copies_start_when_the_snapshot_completes_and_expire_by_their_rule(world: Any) -> None:
    copy_rule = {"Target": DR, "Encrypted": True, "CopyTags": True, "RetainRule": {"Interval": 1, "IntervalUnit": "DAYS"}}
    policy_id = create(world, schedule(CrossRegionCopyRules=[copy_rule]))
    made_at = 9 * HOUR + START_DELAY
    clock = world.clock

    clock.sleep(made_at + SNAPSHOT_TIME - 1)
    nothing_yet = snapshots(world.ec2_dr)
    clock.sleep(1)
    copying = snapshots(world.ec2_dr)
    clock.sleep(COPY_TIME)
    copied = snapshots(world.ec2_dr)
    source = snapshots(world.ec2)[0]

    assert nothing_yet == []
    assert [c["State"] for c in copying] == ["pending"]
    assert copied[0]["State"] == "completed" and copied[0]["Encrypted"] is True and source["Encrypted"] is False
    copy_tags = tags(copied[0])
    assert copy_tags["aws:dlm:lifecycle-policy-id"] == policy_id and copy_tags["team"] == "orders"
    assert copy_tags["aws:dlm:expirationTime"] == "2026-01-06T09:15:00.000Z"  # a day after the copy started
    clock.sleep(made_at + SNAPSHOT_TIME + 86400 - 1 - clock.now())
    still = {s["SnapshotId"] for s in snapshots(world.ec2_dr)}
    clock.sleep(1)
    assert copied[0]["SnapshotId"] in still
    assert copied[0]["SnapshotId"] not in {s["SnapshotId"] for s in snapshots(world.ec2_dr)}


def test_age_based_snapshots_expire_unless_the_policy_is_disabled_then_on_enabling(world: Any) -> None:
    policy_id = create(world, schedule(Name="daily", CreateRule={"Interval": 24, "IntervalUnit": "HOURS", "Times": ["09:00"]},
                                       RetainRule={"Interval": 1, "IntervalUnit": "DAYS"}))
    made_at = 9 * HOUR + START_DELAY
    clock = world.clock

    clock.sleep(made_at)
    first = snapshots(world.ec2)[0]
    world.dlm.update_lifecycle_policy(PolicyId=policy_id, State="DISABLED")
    clock.sleep(2 * 86400)
    kept = [s["SnapshotId"] for s in snapshots(world.ec2)]
    world.dlm.update_lifecycle_policy(PolicyId=policy_id, State="ENABLED")
    after = [s["SnapshotId"] for s in snapshots(world.ec2)]

    assert tags(first)["aws:dlm:expirationTime"] == "2026-01-06T09:10:00.000Z"
    assert kept == [first["SnapshotId"]]  # disabled: no new runs, nothing deleted
    assert after == []
    assert world.dlm.get_lifecycle_policy(PolicyId=policy_id)["Policy"]["State"] == "ENABLED"


def test_age_based_retention_keeps_the_last_snapshot_of_a_deleted_volume(world: Any) -> None:
    create(world, schedule(Name="daily", CreateRule={"Interval": 24, "IntervalUnit": "HOURS", "Times": ["09:00"]},
                           RetainRule={"Interval": 2, "IntervalUnit": "DAYS"}))
    clock = world.clock

    clock.sleep(33 * HOUR + START_DELAY)  # two runs: 09:00 on day one and day two
    two = [s["SnapshotId"] for s in snapshots(world.ec2)]
    world.ec2.delete_volume(VolumeId=world.volume)
    clock.sleep(4 * 86400)

    assert len(two) == 2
    assert [s["SnapshotId"] for s in snapshots(world.ec2)] == two[1:]  # the first expired; the last stays


def test_a_cron_schedule_runs_at_its_times(world: Any) -> None:
    policy_id = create(world, schedule(Name="six", CreateRule={"CronExpression": "cron(0 6 ? * * *)"}))

    assert world.dlm_emulator.next_run(policy_id, "six") == 6 * HOUR + START_DELAY
    world.clock.sleep(6 * HOUR + START_DELAY)
    assert len(snapshots(world.ec2)) == 1


def test_a_lost_region_makes_no_snapshots_and_copies_wait_for_the_target(world: Any) -> None:
    create(world, schedule(CrossRegionCopyRules=[{"Target": DR, "Encrypted": False}]))
    clock = world.clock

    world.emulation.world.lose_region(REGION)
    clock.sleep(9 * HOUR + START_DELAY)
    world.emulation.world.restore_region(REGION)
    skipped = snapshots(world.ec2)
    world.emulation.world.lose_region(DR)
    clock.sleep(12 * HOUR + SNAPSHOT_TIME)  # the 21:00 run and its snapshot's completion
    held = world.dlm_emulator.managed_snapshots(region=DR)
    world.emulation.world.restore_region(DR)

    assert skipped == []
    assert held == []
    assert [s["State"] for s in snapshots(world.ec2_dr)] == ["pending"]


def test_an_instance_policy_snapshots_the_attached_volumes_and_may_exclude_the_boot_volume(world: Any) -> None:
    instance = world.ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, Placement={"AvailabilityZone": f"{REGION}a"},
                                       TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "backup", "Value": "daily"}]}])
    instance_id = instance["Instances"][0]["InstanceId"]
    data = world.ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=4)["VolumeId"]
    world.ec2.attach_volume(VolumeId=data, InstanceId=instance_id, Device="/dev/sdf")
    create(world, schedule(Name="all"), resource="INSTANCE")
    create(world, schedule(Name="data"), resource="INSTANCE", Parameters={"ExcludeBootVolume": True})

    world.clock.sleep(9 * HOUR + START_DELAY)
    by_schedule: dict[str, set[str]] = {}
    for row in snapshots(world.ec2):
        by_schedule.setdefault(tags(row)["aws:dlm:lifecycle-schedule-name"], set()).add(row["VolumeId"])

    assert len(by_schedule["all"]) == 2 and data in by_schedule["all"]
    assert by_schedule["data"] == {data}


@pytest.mark.parametrize(
    "bad",
    [
        schedule(CreateRule={"Interval": 5, "IntervalUnit": "HOURS"}),
        schedule(CreateRule={"Interval": 12, "IntervalUnit": "HOURS", "CronExpression": "cron(0 6 ? * * *)"}),
        schedule(CreateRule={"CronExpression": "cron(0/30 * ? * * *)"}),
        schedule(CreateRule={"Interval": 12, "IntervalUnit": "HOURS", "Times": ["25:00"]}),
        schedule(RetainRule={"Count": 2, "Interval": 1, "IntervalUnit": "DAYS"}),
        schedule(RetainRule={}),
        schedule(CrossRegionCopyRules=[{"Target": REGION, "Encrypted": False}]),
        schedule(CrossRegionCopyRules=[{"Target": "mars-east-1", "Encrypted": False}]),
    ],
    ids=["interval-5", "cron-and-interval", "every-30-min", "bad-time", "count-and-age", "no-retention",
         "copy-to-own-region", "copy-to-nowhere"],
)
def test_bad_schedules_are_invalid_requests(world: Any, bad: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as raised:
        create(world, bad)

    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
    assert world.dlm.get_lifecycle_policies()["Policies"] == []


def test_the_api_answers_policies_and_refuses_what_aws_refuses(world: Any, answers_in_shape: Any) -> None:
    answers_in_shape("dlm")
    policy_id = create(world, state="DISABLED")

    got = world.dlm.get_lifecycle_policy(PolicyId=policy_id)["Policy"]
    listed = world.dlm.get_lifecycle_policies(TargetTags=["backup=daily"])["Policies"]
    with pytest.raises(ClientError) as to_age:
        world.dlm.update_lifecycle_policy(PolicyId=policy_id, PolicyDetails={
            "TargetTags": [{"Key": "backup", "Value": "daily"}],
            "Schedules": [schedule(RetainRule={"Interval": 7, "IntervalUnit": "DAYS"})]})
    with pytest.raises(ClientError) as missing:
        world.dlm.get_lifecycle_policy(PolicyId="policy-0123456789abcdef0")
    with pytest.raises(ClientError) as elsewhere:
        world.client("dlm", DR).get_lifecycle_policy(PolicyId=policy_id)
    world.dlm.tag_resource(ResourceArn=got["PolicyArn"], Tags={"owner": "ops", "tier": "1"})
    world.dlm.untag_resource(ResourceArn=got["PolicyArn"], TagKeys=["tier"])
    policy_tags = world.dlm.list_tags_for_resource(ResourceArn=got["PolicyArn"])["Tags"]
    world.dlm.delete_lifecycle_policy(PolicyId=policy_id)
    with pytest.raises(ClientError) as deleted:
        world.dlm.get_lifecycle_policies(PolicyIds=[policy_id])
    world.clock.sleep(86400)

    assert policy_tags == {"owner": "ops"}
    assert deleted.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert got["State"] == "DISABLED" and got["PolicyArn"].endswith(f":policy/{policy_id}")
    assert got["DateCreated"] == world.clock.datetime(0)
    assert got["PolicyDetails"]["Schedules"][0]["CreateRule"]["Interval"] == 12
    assert [p["PolicyId"] for p in listed] == [policy_id]
    assert to_age.value.response["Error"]["Code"] == "InvalidRequestException"
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert elsewhere.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert snapshots(world.ec2) == []  # a disabled policy creates nothing
