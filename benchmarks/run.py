"""pytest-drtest benchmark: one command, one table, ratios against named baselines.

    .venv/bin/python benchmarks/run.py [--repeat 3] [--json out.json]

Rows:
- game days: ``pytest --dr-scenario=all`` wall time (median of --repeat runs) against the 20 s aim,
  the same over two pytest-xdist workers (``-n 2``) against the serial run, and per scenario (from
  the JSON report): real seconds and modeled seconds per real second;
- harness overhead: topology build + N probe ticks through the harness (emulation on) against
  the same boto3 calls made by hand on moto (no emulation), aim <= 1.5x; both sides read
  botocore's service models through the same process-wide loader (the harness's), so the ratio
  is the cost of the harness, not of re-reading JSON models;
- Chaos Toolkit's experiment, as a test of ours: reboot with failover of the Multi-AZ database +
  probes + RTO/RPO asserted, one whole ``pytest`` process (imports included), against the 2 s aim:
  on the shipped web-app topology, and as Chaos Toolkit runs it, on one database of the team's own
  (``examples/test_own_database_failover.py``: its Multi-AZ instance and SQL path, no topology);
  beside them the floor, a process that only imports what that test needs;
- reproducibility: the same --dr-seed twice gives identical figures, and so does ``-n 2``; another
  seed may differ.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PROBE_TICKS = 300


def run_gamedays(seed: int, report: Path, workers: int = 0) -> float:
    """Run every shipped game day in a fresh pytest process (over ``workers`` pytest-xdist workers
    when > 0); return its wall time."""
    parallel = ["-n", str(workers)] if workers else []
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        proc = subprocess.run(
            [PYTHON, "-m", "pytest", "--dr-scenario=all", f"--dr-seed={seed}", f"--dr-report={report}", "-q",
             "-p", "no:cacheprovider", *parallel],
            cwd=folder, capture_output=True, text=True, timeout=900, check=False,
        )
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"game days failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return wall


#: Chaos Toolkit's RDS experiment (reboot a Multi-AZ instance with failover, probe, judge), as a team
#: writes it with the plugin: the shipped web-app topology, its probes, the fault, RTO and RPO.
REBOOT_EXPERIMENT = """\
import pytest
from pytest_drtest import faults


@pytest.mark.dr(strategy="warm-standby", rto="5m", rpo="0s")
def test_multi_az_reboot_with_failover(dr):
    with dr.probe(interval="1s") as probe:
        dr.clock.sleep("1m")
        dr.inject(faults.RebootDatabase(failover=True))
        assert probe.wait_recovered(within="30m")
        result = probe.result()
    dr.assert_objectives(result)
    assert result.rto_s is not None and result.rto_s > 0
"""


OWN_DATABASE_EXPERIMENT = ROOT / "examples" / "test_own_database_failover.py"
#: What a whole process of the own-database experiment cannot do without: pytest, the plugin, moto's
#: RDS models (which import its EC2 models), psycopg.
IMPORTS = "import pytest, pytest_drtest.plugin, pytest_drtest.harness, moto, moto.rds.models, psycopg"


def run_reboot_experiment(test_file: Path | None = None) -> tuple[float, float]:
    """(wall, pytest's own session time) of one fresh ``pytest`` process running the experiment
    (``REBOOT_EXPERIMENT`` on the shipped topology, or ``test_file``)."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder, test_file.name if test_file else "test_reboot_with_failover.py")
        target.write_text(test_file.read_text() if test_file else REBOOT_EXPERIMENT)
        started = time.perf_counter()
        proc = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", target.name],
                              cwd=folder, capture_output=True, text=True, timeout=300, check=False)
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"the reboot experiment failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    session = re.search(r"passed in ([0-9.]+)s", proc.stdout)
    return wall, float(session.group(1)) if session else float("nan")


def imports_only() -> float:
    """Wall time of a process that imports what the own-database experiment needs, and exits."""
    started = time.perf_counter()
    subprocess.run([PYTHON, "-c", IMPORTS], check=True, timeout=120)
    return time.perf_counter() - started


def figures(report: Path) -> list[tuple[Any, ...]]:
    data = json.loads(report.read_text())
    rows = [(e["test"], e["measured"]["rto_s"], e["measured"]["rpo_s"], e["measured"]["lost_writes"]) for e in data["experiments"]]
    rows += [(r["test"], r["target"], r["items_matched"], r["duration_s"]) for r in data["restores"]]
    return sorted(rows, key=repr)


def per_scenario(report: Path) -> dict[str, tuple[float, float]]:
    """scenario -> (wall seconds, modeled seconds) summed over its experiments."""
    totals: dict[str, list[float]] = {}
    for e in json.loads(report.read_text())["experiments"]:
        entry = totals.setdefault(e["scenario"], [0.0, 0.0])
        entry[0] += e["wall_s"]
        entry[1] += e["clock_s"]
    return {name: (w, c) for name, (w, c) in totals.items()}


# -- harness overhead ----------------------------------------------------------------------------
def through_harness(database: bool) -> float:
    import dataclasses

    from pytest_drtest.harness import Harness
    from pytest_drtest.settings import Settings
    from pytest_drtest.topology.blueprint import load_blueprint

    blueprint = load_blueprint("web-app")
    if not database:
        blueprint = dataclasses.replace(blueprint, database=None)
    started = time.perf_counter()
    with Harness(Settings(), strategy="warm-standby", blueprint=blueprint) as dr:
        probe = dr.probe(interval="1s")
        dr.topology  # noqa: B018 - builds and waits until ready
        for _ in range(PROBE_TICKS):
            probe.tick()
    return time.perf_counter() - started


def by_hand(database: bool) -> float:
    """The same resources and the same number of probe calls, with boto3 on moto, no emulation
    (with ``database``: the same RDS calls too, answered by moto's metadata only). The session
    shares the harness's model loader: neither side re-reads botocore's JSON models."""
    from moto import mock_aws

    from pytest_drtest.backends.base import new_boto3_session

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", MOTO_EC2_LOAD_DEFAULT_AMIS="false",
                      AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled")
    started = time.perf_counter()
    with mock_aws():
        session = new_boto3_session()
        clients: dict[tuple[str, str], Any] = {}

        def c(service: str, region: str) -> Any:
            if (service, region) not in clients:
                clients[(service, region)] = session.client(service, region_name=region)
            return clients[(service, region)]

        albs = {}
        for index, (region, desired) in enumerate((("us-east-1", 3), ("us-west-2", 1))):
            ec2, elb, asg = c("ec2", region), c("elbv2", region), c("autoscaling", region)
            vpc = ec2.create_vpc(CidrBlock=f"10.{index}.0.0/16")["Vpc"]["VpcId"]
            subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{index}.{i}.0/24", AvailabilityZone=f"{region}{z}")["Subnet"]["SubnetId"] for i, z in enumerate("abc")]
            lb = elb.create_load_balancer(Name=f"lb{index}", Subnets=subnets)["LoadBalancers"][0]
            albs[region] = lb["DNSName"]
            tg = elb.create_target_group(Name=f"tg{index}", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
            elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
            ec2.create_launch_template(LaunchTemplateName=f"lt{index}", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})
            asg.create_auto_scaling_group(AutoScalingGroupName=f"asg{index}", LaunchTemplate={"LaunchTemplateName": f"lt{index}", "Version": "$Latest"},
                                          MinSize=0, MaxSize=6, DesiredCapacity=desired, VPCZoneIdentifier=",".join(subnets), TargetGroupARNs=[tg])
            asg.describe_auto_scaling_groups(AutoScalingGroupNames=[f"asg{index}"])
        ddb = c("dynamodb", "us-east-1")
        ddb.create_table(TableName="orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        ddb.update_continuous_backups(TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        ddb.update_table(TableName="orders", ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])
        for region in ("us-east-1", "us-west-2"):
            s3 = c("s3", region)
            kwargs: dict[str, Any] = {"Bucket": f"assets-{region}"}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**kwargs)
            s3.put_bucket_versioning(Bucket=f"assets-{region}", VersioningConfiguration={"Status": "Enabled"})
        c("s3", "us-east-1").put_bucket_replication(Bucket="assets-us-east-1", ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/r", "Rules": [{"ID": "r", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                "DeleteMarkerReplication": {"Status": "Enabled"}, "Destination": {"Bucket": "arn:aws:s3:::assets-us-west-2"}}]})
        r53 = c("route53", "us-east-1")
        zone = r53.create_hosted_zone(Name="drtest.example", CallerReference="z")["HostedZone"]["Id"]
        checks = [r53.create_health_check(CallerReference=r, HealthCheckConfig={"Type": "HTTPS", "FullyQualifiedDomainName": albs[r], "RequestInterval": 30, "FailureThreshold": 3})["HealthCheck"]["Id"] for r in albs]
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
            {"Action": "CREATE", "ResourceRecordSet": {"Name": "www.drtest.example", "Type": "CNAME", "TTL": 60, "SetIdentifier": r, "Failover": f, "HealthCheckId": h, "ResourceRecords": [{"Value": albs[r]}]}}
            for r, f, h in zip(albs, ("PRIMARY", "SECONDARY"), checks, strict=True)]})
        if database:
            rds, rds_dr = c("rds", "us-east-1"), c("rds", "us-west-2")
            rds.create_db_instance(DBInstanceIdentifier="db", Engine="postgres", DBInstanceClass="db.r6g.large", MultiAZ=True,
                                   MasterUsername="drtest", MasterUserPassword="drtest-secret", DBName="appdb",
                                   AllocatedStorage=20, BackupRetentionPeriod=7)
            rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="db")
            arn = rds.describe_db_instances(DBInstanceIdentifier="db")["DBInstances"][0]["DBInstanceArn"]
            rds_dr.create_db_instance_read_replica(DBInstanceIdentifier="db-replica", SourceDBInstanceIdentifier=arn,
                                                   DBInstanceClass="db.r6g.large", SourceRegion="us-east-1")
            rds_dr.get_waiter("db_instance_available").wait(DBInstanceIdentifier="db-replica")
        for i in range(200):
            ddb.put_item(TableName="orders", Item={"pk": {"S": f"seed#{i:05d}"}, "payload": {"S": str(i)}})
        for i in range(20):
            c("s3", "us-east-1").put_object(Bucket="assets-us-east-1", Key=f"seed/{i}.json", Body=b"{}")
        for i in range(PROBE_TICKS):
            ddb.put_item(TableName="orders", Item={"pk": {"S": f"probe#{i:07d}"}, "payload": {"S": str(i)}})
            ddb.get_item(TableName="orders", Key={"pk": {"S": f"probe#{i:07d}"}}, ConsistentRead=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    out = Path(tempfile.mkdtemp(prefix="drtest-bench-"))
    walls = [run_gamedays(1, out / f"seed1-{i}.json") for i in range(args.repeat)]
    parallel_walls = [run_gamedays(1, out / f"seed1-n2-{i}.json", workers=2) for i in range(args.repeat)]
    run_gamedays(2, out / "seed2.json")
    same = figures(out / "seed1-0.json") == figures(out / "seed1-1.json") if args.repeat > 1 else None
    same_parallel = figures(out / "seed1-0.json") == figures(out / "seed1-n2-0.json")
    differs = figures(out / "seed1-0.json") != figures(out / "seed2.json")
    for database in (False, True):  # warm imports, caches and the PostgreSQL template
        by_hand(database), through_harness(database)
    hand = statistics.median(by_hand(False) for _ in range(args.repeat))
    harness = statistics.median(through_harness(False) for _ in range(args.repeat))
    hand_db = statistics.median(by_hand(True) for _ in range(args.repeat))
    harness_db = statistics.median(through_harness(True) for _ in range(args.repeat))
    scenarios = per_scenario(out / "seed1-0.json")
    reboots = [run_reboot_experiment() for _ in range(args.repeat)]
    reboot_wall = statistics.median(w for w, _ in reboots)
    reboot_session = statistics.median(s for _, s in reboots)
    own = [run_reboot_experiment(OWN_DATABASE_EXPERIMENT) for _ in range(args.repeat)]
    own_wall = statistics.median(w for w, _ in own)
    own_session = statistics.median(s for _, s in own)
    floor = statistics.median(imports_only() for _ in range(args.repeat))

    rows: list[tuple[str, str, str, str]] = [("measure", "value", "baseline", "ratio")]
    game = statistics.median(walls)
    rows.append(("four game days, pytest --dr-scenario=all (median wall)", f"{game:.1f} s", "aim 20 s", f"{game / 20:.2f}x"))
    parallel = statistics.median(parallel_walls)
    rows.append(("  the same over 2 pytest-xdist workers (-n 2)", f"{parallel:.1f} s", f"serial {game:.1f} s",
                 f"{parallel / game:.2f}x"))
    for name, (wall, modeled) in sorted(scenarios.items()):
        rows.append((f"  {name}: experiments wall / modeled", f"{wall:.2f} s / {modeled / 3600:.2f} h", "1 real second",
                     f"{modeled / wall:,.0f} modeled s per s"))
    rows.append((f"harness: build + {PROBE_TICKS} probe ticks, no database (median)", f"{harness:.2f} s",
                 f"by hand {hand:.2f} s", f"{harness / hand:.2f}x (aim <= 1.5x)"))
    rows.append(("  the same with the RDS tier (real PostgreSQL behind it)", f"{harness_db:.2f} s",
                 f"by hand {hand_db:.2f} s (moto metadata only)", f"{harness_db / hand_db:.2f}x"))
    rows.append(("Chaos Toolkit's reboot-with-failover experiment, one pytest process (median wall)",
                 f"{reboot_wall:.1f} s (session {reboot_session:.1f} s)", "aim 2 s", f"{reboot_wall / 2:.2f}x"))
    rows.append(("  the same on the team's own Multi-AZ database, no topology (examples/)",
                 f"{own_wall:.1f} s (session {own_session:.1f} s)", "aim 2 s", f"{own_wall / 2:.2f}x"))
    rows.append(("  a process that only imports what it needs (pytest, plugin, moto RDS + EC2, psycopg)",
                 f"{floor:.1f} s", f"own database {own_wall:.1f} s", f"{floor / own_wall:.2f} of it"))
    rows.append(("same --dr-seed twice: identical figures", "not run (--repeat 1)" if same is None else str(same),
                 "must be True", "-"))
    rows.append(("-n 2 vs serial, same seed: identical figures", str(same_parallel), "must be True", "-"))
    rows.append(("--dr-seed 1 vs 2: figures differ", str(differs), "may be True", "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    if args.json:
        args.json.write_text(json.dumps({"gamedays_wall_s": walls, "gamedays_n2_wall_s": parallel_walls,
                                         "same_figures_n2": same_parallel, "harness_s": harness, "by_hand_s": hand,
                                         "harness_db_s": harness_db, "by_hand_db_s": hand_db,
                                         "reboot_experiment_wall_s": [w for w, _ in reboots],
                                         "own_database_experiment_wall_s": [w for w, _ in own], "imports_only_s": floor,
                                         "scenarios": scenarios, "same_seed_identical": same, "seeds_differ": differs}, indent=2))
    if same is False or not same_parallel:
        sys.exit("the same seed gave different figures")


if __name__ == "__main__":
    main()
