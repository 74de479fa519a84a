"""Every resource of a shipped topology carries drtest:role, drtest:region-role, drtest:run and the blueprint's [tags]."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.settings import Settings
from pytest_drtest.topology.blueprint import parse_blueprint

LEAN = ('name = "lean"\n[tags]\n"FIS-Ready" = "True"\n[compute]\ncapacity = 3\n[[tables]]\nname = "orders"\nseed_items = 1\n'
        '[[buckets]]\nname = "assets"\n')


def _tags(rows: list[dict[str, Any]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in rows or []}


def test_every_resource_is_tagged_with_its_role_region_role_and_the_blueprint_tags(tmp_path: Path) -> None:
    blueprint = tmp_path / "lean.toml"
    blueprint.write_text(LEAN, encoding="utf-8")
    with Harness(Settings(), strategy="warm-standby", blueprint=str(blueprint)) as dr:
        topology = dr.topology
        found: list[tuple[str, str, dict[str, str]]] = []
        for stack in topology.regions.values():
            region = stack.region
            ec2, elbv2 = dr.client("ec2", region), dr.client("elbv2", region)
            found += [("vpc", region, _tags(v.get("Tags"))) for v in ec2.describe_vpcs(VpcIds=[stack.vpc_id])["Vpcs"]]
            found += [("subnet", region, _tags(s.get("Tags"))) for s in ec2.describe_subnets(SubnetIds=list(stack.subnets.values()))["Subnets"]]
            group = dr.client("autoscaling", region).describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"][0]
            found.append(("web", region, _tags(group["Tags"])))
            ids = [i["InstanceId"] for i in group["Instances"]]
            found += [("web", region, _tags(i.get("Tags"))) for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]]
            arns = [stack.alb_arn, stack.target_group_arn]
            roles = {stack.alb_arn: "load-balancer", stack.target_group_arn: "target-group"}
            found += [(roles[d["ResourceArn"]], region, _tags(d["Tags"])) for d in elbv2.describe_tags(ResourceArns=arns)["TagDescriptions"]]
            ddb = dr.client("dynamodb", region)
            arn = ddb.describe_table(TableName=stack.tables["orders"])["Table"]["TableArn"]
            found.append(("table", region, _tags(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"])))
            found.append(("bucket", region, _tags(dr.client("s3", region).get_bucket_tagging(Bucket=stack.buckets["assets"])["TagSet"])))
            r53 = dr.client("route53")
            check = r53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=stack.health_check_id)["ResourceTagSet"]["Tags"]
            found.append(("health-check", region, _tags(check)))
        zone = dr.client("route53").list_tags_for_resource(ResourceType="hostedzone", ResourceId=topology.zone_id)["ResourceTagSet"]["Tags"]
        found.append(("dns-zone", topology.primary_region, _tags(zone)))
    roles = {topology.primary_region: "primary", topology.dr_region: "dr"}
    for role, region, tags in found:
        assert (tags.get("drtest:role"), tags.get("drtest:region-role"), tags.get("FIS-Ready")) == (role, roles[region], "True"), (role, region, tags)
        assert tags.get("drtest:run") == dr.run_id, (role, region, tags)  # what teardown on a real account finds
    assert {role for role, _, _ in found} == {"vpc", "subnet", "web", "load-balancer", "target-group", "table", "bucket", "health-check", "dns-zone"}


@pytest.mark.parametrize(("tags", "message"), [
    ('"FIS-Ready" = true', "expected a string value"),
    ('"aws:owner" = "me"', "keys starting with aws: or drtest: are reserved"),
])
def test_bad_blueprint_tags_are_named(tags: str, message: str) -> None:
    import tomllib

    data = tomllib.loads(LEAN.replace('"FIS-Ready" = "True"', tags))
    with pytest.raises(DrConfigError, match=message) as info:
        parse_blueprint(data, "lean.toml")
    assert info.value.source == "lean.toml" and (info.value.field or "").startswith("tags.")
