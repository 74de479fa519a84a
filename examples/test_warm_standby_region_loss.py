"""Example: a team's own DR test with their own runbook (boto3 calls), on the embedded backend.

Run it with ``pytest examples/test_warm_standby_region_loss.py``; it is also part of the suite.
"""
from __future__ import annotations

import pytest

from pytest_drtest import faults


def fail_over_orders(topology, clock) -> None:
    """The team's runbook: wait for Route 53 to see the primary failing, promote the cross-region
    read replica, scale up the DR region, point the DR application at the promoted database."""
    route53 = topology.client("route53")  # Route 53 is global: the client of any region reaches it
    while True:
        status = route53.get_health_check_status(HealthCheckId=topology.primary.health_check_id)
        if all(o["StatusReport"]["Status"].startswith("Failure") for o in status["HealthCheckObservations"]):
            break
        clock.sleep("10s")
    topology.note("detected", "primary health check failing")
    rds = topology.client("rds", "dr")
    rds.promote_read_replica(DBInstanceIdentifier=topology.dr.database)
    autoscaling = topology.client("autoscaling", "dr")
    autoscaling.set_desired_capacity(AutoScalingGroupName=topology.dr.asg_name, DesiredCapacity=3)
    while True:
        group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[topology.dr.asg_name])["AutoScalingGroups"][0]
        if sum(i["LifecycleState"] == "InService" for i in group["Instances"]) == 3:
            break
        clock.sleep("15s")
    topology.note("dr-scaled", "3 instances InService")
    while True:
        db = rds.describe_db_instances(DBInstanceIdentifier=topology.dr.database)["DBInstances"][0]
        if db["DBInstanceStatus"] == "available" and "ReadReplicaSourceDBInstanceIdentifier" not in db:
            break
        clock.sleep("15s")
    topology.point_app_at_database("dr", topology.dr.database)


@pytest.mark.dr(strategy="warm-standby", rto="5m", rpo="5s")
def test_orders_survive_region_loss(dr):
    app = dr.topology
    with dr.probe(interval="1s") as probe:
        dr.clock.sleep("2m")  # steady state
        dr.inject(faults.RegionOutage("primary"))
        fail_over_orders(app, dr.clock)
        assert probe.wait_recovered(within="30m")
        result = probe.result()
    dr.assert_objectives(result)  # fails with the story if RTO > 5m or RPO > 5s
    assert result.served_by[app.dr_region] > 0  # the DR region really took traffic
    assert 0 < result.phases.health_check_unhealthy <= 90  # 30 s x 3 with the default profile
    assert [m.kind for m in result.milestones][:2] == ["fault", "detected"]
