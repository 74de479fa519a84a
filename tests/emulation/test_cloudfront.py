"""CloudFront origin groups in front of two Regions' ALBs: per-request failover and its modeled time."""
from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from pytest_drtest.emulation.cloudfront import CloudFrontEmulator
from pytest_drtest.emulation.compute import install_compute
from pytest_drtest.emulation.s3 import S3Emulator

PRIMARY, SECONDARY = "us-east-1", "us-west-2"


def make_alb(env: Any, region: str) -> str:
    """An ALB over two AZs with one instance target in the first; its DNS name."""
    ec2 = env.client("ec2", region)
    elbv2 = env.client("elbv2", region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    tg = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    lb = elbv2.create_load_balancer(Name="web-alb", Subnets=subnets)["LoadBalancers"][0]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnets[0])["Instances"][0]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance["InstanceId"]}])
    return str(lb["DNSName"])


def origin(origin_id: str, domain: str, **extra: Any) -> dict[str, Any]:
    return {"Id": origin_id, "DomainName": domain, **extra,
            "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}


def config(primary: dict[str, Any], secondary: dict[str, Any], codes: list[int], members: int = 2) -> dict[str, Any]:
    ids = [primary["Id"], secondary["Id"], primary["Id"]][:members]
    return {
        "CallerReference": f"web-{len(codes)}-{members}",
        "Comment": "two Regions",
        "Enabled": True,
        "Origins": {"Quantity": 2, "Items": [primary, secondary]},
        "OriginGroups": {"Quantity": 1, "Items": [{
            "Id": "web-group",
            "FailoverCriteria": {"StatusCodes": {"Quantity": len(codes), "Items": codes}},
            "Members": {"Quantity": len(ids), "Items": [{"OriginId": i} for i in ids]},
        }]},
        "DefaultCacheBehavior": {"TargetOriginId": "web-group", "ViewerProtocolPolicy": "allow-all",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    }


@pytest.fixture
def world(emu_env: Any) -> Any:
    install_compute(emu_env.emulation)
    emu_env.emulation.add(S3Emulator(emu_env.emulation))
    emulator = emu_env.emulation.add(CloudFrontEmulator(emu_env.emulation))
    env = emu_env
    env.cf = env.client("cloudfront", PRIMARY)
    env.cloudfront = emulator
    env.primary_alb = make_alb(env, PRIMARY)
    env.secondary_alb = make_alb(env, SECONDARY)
    return env


def create(world: Any, codes: list[int], **primary_extra: Any) -> str:
    cfg = config(origin("primary", world.primary_alb, **primary_extra), origin("secondary", world.secondary_alb), codes)
    return str(world.cf.create_distribution(DistributionConfig=cfg)["Distribution"]["Id"])


def test_a_cache_behavior_may_target_an_origin_group_and_the_answers_keep_it(world: Any, answers_in_shape: Any) -> None:
    answers_in_shape("cloudfront")
    dist_id = create(world, [500, 502, 503, 504])

    got = world.cf.get_distribution(Id=dist_id)["Distribution"]["DistributionConfig"]
    listed = world.cf.list_distributions()["DistributionList"]["Items"][0]

    assert got["DefaultCacheBehavior"]["TargetOriginId"] == "web-group"
    assert listed["DefaultCacheBehavior"]["TargetOriginId"] == "web-group"
    assert got["OriginGroups"]["Items"][0]["Members"]["Items"] == [{"OriginId": "primary"}, {"OriginId": "secondary"}]


def test_an_update_changes_the_criteria_and_is_checked_like_a_creation(world: Any) -> None:
    dist_id = create(world, [503])
    got = world.cf.get_distribution_config(Id=dist_id)
    changed = got["DistributionConfig"]
    changed["OriginGroups"]["Items"][0]["FailoverCriteria"]["StatusCodes"] = {"Quantity": 1, "Items": [404]}

    world.cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=changed)
    world.cloudfront.set_origin_status(world.primary_alb, 404)
    answer = world.cloudfront.request(dist_id, "/")
    again = world.cf.get_distribution_config(Id=dist_id)
    bad = again["DistributionConfig"]
    bad["OriginGroups"]["Items"][0]["FailoverCriteria"]["StatusCodes"] = {"Quantity": 1, "Items": [501]}
    with pytest.raises(ClientError) as raised:
        world.cf.update_distribution(Id=dist_id, IfMatch=again["ETag"], DistributionConfig=bad)

    assert (answer.origin_id, answer.failed_over) == ("secondary", True)
    assert again["DistributionConfig"]["DefaultCacheBehavior"]["TargetOriginId"] == "web-group"
    assert raised.value.response["Error"]["Code"] == "InvalidArgument"
    assert world.cloudfront.distribution(dist_id).groups["web-group"].status_codes == {404}


def test_create_distribution_with_tags_takes_origin_groups_too(world: Any) -> None:
    cfg = config(origin("primary", world.primary_alb), origin("secondary", world.secondary_alb), [502])
    made = world.cf.create_distribution_with_tags(DistributionConfigWithTags={
        "DistributionConfig": cfg, "Tags": {"Items": [{"Key": "app", "Value": "web"}]}})["Distribution"]
    bad = dict(config(origin("primary", world.primary_alb), origin("secondary", world.secondary_alb), [302]), CallerReference="bad")

    world.emulation.world.lose_region(PRIMARY)
    with pytest.raises(ClientError) as raised:
        world.cf.create_distribution_with_tags(DistributionConfigWithTags={"DistributionConfig": bad, "Tags": {"Items": []}})

    assert made["DistributionConfig"]["DefaultCacheBehavior"]["TargetOriginId"] == "web-group"
    assert world.cloudfront.request(made["Id"], "/").origin_id == "secondary"
    assert raised.value.response["Error"]["Code"] == "InvalidArgument"
    assert cfg["DefaultCacheBehavior"]["TargetOriginId"] == "web-group"  # the caller's dict is left alone


def test_requests_answer_from_the_primary_while_it_serves(world: Any) -> None:
    dist_id = create(world, [500, 502, 503, 504])

    answer = world.cloudfront.request(dist_id, "/index.html")

    assert (answer.status, answer.origin_id, answer.failed_over, answer.seconds) == (200, "primary", False, 0.0)


def test_a_region_outage_of_the_primary_alb_fails_over_after_the_connection_attempts(world: Any) -> None:
    default = create(world, [503])
    quick = world.cf.create_distribution(DistributionConfig=dict(
        config(origin("primary", world.primary_alb, ConnectionAttempts=2, ConnectionTimeout=4),
               origin("secondary", world.secondary_alb), [503]), CallerReference="quick"))["Distribution"]["Id"]

    world.emulation.world.lose_region(PRIMARY)
    slow = world.cloudfront.request(default, "/")
    fast = world.cloudfront.request(quick, "/")

    # 3 attempts x 10 s by default ([BC:cloudfront] Origin), 2 x 4 s as configured
    assert (slow.status, slow.origin_id, slow.failed_over, slow.seconds) == (200, "secondary", True, 30.0)
    assert [a.status for a in slow.attempts] == [None, 200]
    assert (fast.origin_id, fast.seconds) == ("secondary", 8.0)
    # every request tries the primary again: once the Region is back, the primary answers
    world.emulation.world.restore_region(PRIMARY)
    assert world.cloudfront.request(default, "/").origin_id == "primary"


def test_a_status_code_in_the_criteria_fails_over_at_once_and_one_outside_does_not(world: Any) -> None:
    dist_id = create(world, [500, 503])

    world.cloudfront.set_origin_status(world.primary_alb, 503)
    failover = world.cloudfront.request(dist_id, "/")
    world.cloudfront.set_origin_status(world.primary_alb, 404)
    kept = world.cloudfront.request(dist_id, "/")

    assert (failover.status, failover.origin_id, failover.seconds) == (200, "secondary", 0.0)
    assert (kept.status, kept.origin_id, kept.failed_over) == (404, "primary", False)


def test_an_alb_whose_targets_all_stopped_answering_gives_504_which_can_fail_over(world: Any) -> None:
    dist_id = create(world, [504])

    world.emulation.world.lose_az(f"{PRIMARY}a")  # the target's AZ; the ALB keeps a node in b
    answer = world.cloudfront.request(dist_id, "/")

    assert [a.status for a in answer.attempts] == [504, 200]
    assert answer.origin_id == "secondary"


def test_a_cache_behavior_that_targets_one_origin_does_not_fail_over(world: Any) -> None:
    cfg = config(origin("primary", world.primary_alb), origin("secondary", world.secondary_alb), [503])
    cfg["CacheBehaviors"] = {"Quantity": 1, "Items": [dict(cfg["DefaultCacheBehavior"], PathPattern="/api/*", TargetOriginId="primary")]}
    dist = world.cf.create_distribution(DistributionConfig=cfg)["Distribution"]

    world.emulation.world.lose_region(PRIMARY)
    api = world.cloudfront.request(dist["DomainName"], "/api/orders")
    page = world.cloudfront.request(dist["DomainName"], "/index.html")

    assert (api.status, api.origin_id, api.failed_over, api.seconds) == (504, "primary", False, 30.0)
    assert (page.status, page.origin_id) == (200, "secondary")
    got = world.cf.get_distribution_config(Id=dist["Id"])["DistributionConfig"]
    assert [b["TargetOriginId"] for b in got["CacheBehaviors"]["Items"]] == ["primary"]


def test_only_get_head_and_options_fail_over(world: Any) -> None:
    dist_id = create(world, [503])

    world.emulation.world.lose_region(PRIMARY)
    post = world.cloudfront.request(dist_id, "/orders", method="POST")
    head = world.cloudfront.request(dist_id, "/orders", method="HEAD")

    assert (post.status, post.origin_id, post.failed_over, post.seconds) == (504, "primary", False, 30.0)
    assert (head.status, head.origin_id) == (200, "secondary")


def test_the_secondary_unreachable_too_gives_504_after_both_origins_timeouts(world: Any) -> None:
    dist_id = create(world, [503])

    world.emulation.world.lose_region(PRIMARY)
    world.emulation.world.lose_region(SECONDARY)
    answer = world.cloudfront.request(dist_id, "/")

    assert (answer.status, answer.origin_id, answer.seconds) == (504, "secondary", 60.0)


@pytest.mark.parametrize(
    ("codes", "members", "error"),
    [([429], 2, "InvalidArgument"), ([503, 200], 2, "InvalidArgument"), ([503], 3, "InvalidArgument")],
)
def test_origin_groups_are_checked_as_cloudfront_does(world: Any, codes: list[int], members: int, error: str) -> None:
    cfg = config(origin("primary", world.primary_alb), origin("secondary", world.secondary_alb), codes, members)

    with pytest.raises(ClientError) as raised:
        world.cf.create_distribution(DistributionConfig=cfg)

    assert raised.value.response["Error"]["Code"] == error
    assert world.cloudfront.distributions == {}


def test_bad_connection_settings_and_unknown_members_are_refused(world: Any) -> None:
    bad_timeout = config(origin("primary", world.primary_alb, ConnectionTimeout=11), origin("secondary", world.secondary_alb), [503])
    unknown = config(origin("primary", world.primary_alb), origin("secondary", world.secondary_alb), [503])
    unknown["OriginGroups"]["Items"][0]["Members"]["Items"][1] = {"OriginId": "elsewhere"}
    one_member = config(origin("primary", world.primary_alb), origin("secondary", world.secondary_alb), [503], members=1)

    codes = []
    for cfg in (bad_timeout, unknown):
        with pytest.raises(ClientError) as raised:
            world.cf.create_distribution(DistributionConfig=cfg)
        codes.append(raised.value.response["Error"]["Code"])
    with pytest.raises(ParamValidationError):  # botocore: OriginGroupMemberList min 2
        world.cf.create_distribution(DistributionConfig=one_member)

    assert codes == ["InvalidArgument", "NoSuchOrigin"]


def test_s3_origins_answer_by_bucket_region_and_object(world: Any) -> None:
    buckets = {PRIMARY: "assets-east", SECONDARY: "assets-west"}
    for region, bucket in buckets.items():
        s3 = world.client("s3", region)
        s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}))
        s3.put_object(Bucket=bucket, Key="site/logo.png", Body=b"png")
    world.client("s3", PRIMARY).put_object(Bucket=buckets[PRIMARY], Key="site/new.png", Body=b"png")
    world.client("s3", SECONDARY).put_object(Bucket=buckets[SECONDARY], Key="site/west.png", Body=b"png")
    s3_origins = [{"Id": role, "DomainName": f"{bucket}.s3.{region}.amazonaws.com", "OriginPath": "/site",
                   "S3OriginConfig": {"OriginAccessIdentity": ""}}
                  for role, (region, bucket) in zip(("primary", "secondary"), buckets.items(), strict=True)]
    cfg = config(*s3_origins, [403, 404, 500, 502, 503, 504])
    dist_id = world.cf.create_distribution(DistributionConfig=cfg)["Distribution"]["Id"]

    logo = world.cloudfront.request(dist_id, "/logo.png")
    new = world.cloudfront.request(dist_id, "/new.png")
    west = world.cloudfront.request(dist_id, "/west.png")
    world.emulation.world.lose_region(PRIMARY)
    outage_logo = world.cloudfront.request(dist_id, "/logo.png")
    outage_new = world.cloudfront.request(dist_id, "/new.png")
    missing = world.cloudfront.request(dist_id, "/nothing.png")

    assert (logo.status, logo.origin_id) == (200, "primary")
    assert (new.status, new.origin_id) == (200, "primary")
    assert ([a.status for a in west.attempts], west.origin_id, west.seconds) == ([403, 200], "secondary", 0.0)
    assert (outage_logo.status, outage_logo.origin_id, outage_logo.seconds) == (200, "secondary", 30.0)
    # not in the secondary bucket (never replicated): S3 answers 403 without s3:ListBucket
    assert (outage_new.status, outage_new.origin_id) == (403, "secondary")
    assert [a.status for a in missing.attempts] == [None, 403]
