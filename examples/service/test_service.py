"""Example: the team's own service (``orders/service.py``, Flask + boto3 + psycopg) as the web tier.

Each region runs the service in a process of its own behind its load balancer; the probes reach it
over HTTP through the Route 53 name, so RTO and RPO are the service's own. Needs the world on the
network: ``pytest --dr-backend=moto-server examples/service``.
"""
from __future__ import annotations

import pytest

from pytest_drtest import faults
from pytest_drtest.errors import ObjectiveMissed

pytestmark = pytest.mark.usefixtures("needs_the_network")


@pytest.fixture
def needs_the_network(dr_settings):
    if dr_settings.backend != "moto-server":
        pytest.skip("the team's service runs only in the emulated world on the network: --dr-backend=moto-server")


@pytest.fixture
def paced(dr_settings):
    if dr_settings.clock_mode != "paced":
        pytest.skip("a service's DNS cache expires in wall time: run with --dr-clock=paced:60")


def _multi_az_failover(dr):
    """Reboot the primary database with failover (as `aws rds reboot-db-instance --force-failover`)."""
    with dr.probe(interval="2s") as probe:
        dr.clock.sleep("1m")
        dr.inject(faults.RebootDatabase(failover=True))
        probe.wait_recovered(within="10m")
        return probe.result()


@pytest.mark.dr(strategy="warm-standby", blueprint="blueprint.toml", web="orders.service:app", rto="5m", rpo="0s")
def test_a_service_that_reconnects_survives_a_multi_az_failover(dr):
    result = _multi_az_failover(dr)
    assert result.rto_s is not None and result.rto_s > 0  # the failover dropped its connection for a while
    dr.assert_objectives(result)


@pytest.mark.dr(strategy="warm-standby", blueprint="blueprint.toml", web="orders.service:sticky_app", rto="5m")
def test_a_service_that_keeps_its_dead_connection_never_recovers(dr):
    result = _multi_az_failover(dr)
    assert not result.recovered
    with pytest.raises(ObjectiveMissed, match="did not recover"):
        dr.assert_objectives(result)


def _region_outage(dr, within="20m"):
    """Lose the primary region; the runbook promotes the DR replica and scales the DR region up; the
    db.<domain> failover record follows its health check to the promoted database."""
    from pytest_drtest.recovery import resolve_runbook

    with dr.probe(interval="5s") as probe:
        dr.clock.sleep("2m")
        dr.inject(faults.RegionOutage("primary"))
        resolve_runbook("dns-failover")(dr.topology, dr.clock)
        probe.wait_recovered(within=within)
        return probe.result()


@pytest.mark.usefixtures("paced")
@pytest.mark.dr(strategy="warm-standby", blueprint="blueprint.toml", web="orders.service:app", rto="15m")
def test_a_service_that_honours_the_ttl_follows_the_database_to_the_dr_region(dr):
    result = _region_outage(dr)
    assert result.served_by.get(dr.topology.dr_region, 0) > 0
    dr.assert_objectives(result)


@pytest.mark.usefixtures("paced")
@pytest.mark.dr(strategy="warm-standby", blueprint="blueprint.toml", web="orders.service:dns_forever_app", rto="15m")
def test_a_service_that_caches_dns_forever_keeps_the_lost_database(dr):
    # still down 8 minutes after the fault, when the service that honours the TTL is back in ~2m15s
    result = _region_outage(dr, within="8m")
    assert not result.recovered
