"""The blueprint's ``[cdn]``: a CloudFront origin group over the two ALBs, the application's reads
through it — in this process, over the emulated world's network (the CloudFront edge), and from a
process of its own — and its bad input."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from pytest_drtest import faults
from pytest_drtest.errors import DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.settings import Settings
from pytest_drtest.topology.blueprint import load_blueprint
from pytest_drtest.topology.cdn import delete_distribution

SHOP = """
name = "shop"
[compute]
capacity = 2
[[tables]]
name = "orders"
seed_items = 5
[cdn]
connection_attempts = 2
connection_timeout = 5
"""


def _blueprint(tmp_path: Path, text: str = SHOP) -> str:
    path = tmp_path / "shop.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _region_loss(dr: Harness) -> tuple[Any, Any]:
    with dr.probe(interval="5s") as probe:
        dr.clock.sleep(60)
        dr.inject(faults.RegionOutage("primary"))
        assert probe.wait_recovered("30m")
        return probe.result(), list(probe.samples)


def test_reads_fail_over_per_request_to_the_dr_alb_after_the_connection_attempts(tmp_path: Path) -> None:
    with Harness(Settings(), strategy="warm-standby", blueprint=_blueprint(tmp_path)) as dr:
        topology = dr.topology
        dr.wait_ready()
        cloudfront = dr.client("cloudfront", "us-east-1")
        config = cloudfront.get_distribution(Id=topology.cdn_id)["Distribution"]["DistributionConfig"]
        result, samples = _region_loss(dr)
    group = config["OriginGroups"]["Items"][0]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == group["Id"] == "web"
    assert [m["OriginId"] for m in group["Members"]["Items"]] == ["primary", "dr"]
    assert sorted(group["FailoverCriteria"]["StatusCodes"]["Items"]) == [500, 502, 503, 504]
    assert {(o["ConnectionAttempts"], o["ConnectionTimeout"]) for o in config["Origins"]["Items"]} == {(2, 5)}
    cdn = result.cdn
    assert cdn is not None and cdn["failed"] == 0 and cdn["failed_over"] > 0
    assert cdn["wait_s_max"] == 10.0  # 2 attempts x 5 s on the lost primary, then the DR ALB answers
    assert cdn["served_by"]["us-west-2"] == cdn["failed_over"]
    fault_t = result.fault_t
    # writes wait for the Route 53 failover; reads come from the DR Region from the first request on
    during = [s for s in samples if fault_t <= s.t < fault_t + (result.phases.failover or 0)]
    assert during and all(not s.write_ok and s.read_ok and s.region == "us-west-2" for s in during)
    assert "reads failed over by CloudFront (longest wait 10.0s)" in result.summary()
    assert result.as_dict()["cdn"] == cdn


def test_without_cdn_the_same_reads_fail_until_dns_fails_over(tmp_path: Path) -> None:
    plain = SHOP.split("[cdn]")[0]
    with Harness(Settings(), strategy="warm-standby", blueprint=_blueprint(tmp_path, plain)) as dr:
        assert dr.topology.cdn_domain is None
        result, samples = _region_loss(dr)
    during = [s for s in samples if result.fault_t <= s.t < result.fault_t + (result.phases.failover or 0)]
    assert during and not any(s.read_ok for s in during)
    assert result.cdn is None and "cdn" not in result.as_dict()


def test_over_the_network_the_edge_gives_the_same_figures_and_serves_another_process(tmp_path: Path) -> None:
    with Harness(Settings(), strategy="warm-standby", blueprint=_blueprint(tmp_path)) as dr:
        in_process = _region_loss(dr)[0].as_dict()
    with Harness(Settings(backend="moto-server"), strategy="warm-standby", blueprint=_blueprint(tmp_path)) as dr:
        topology = dr.topology
        dr.wait_ready()
        env = dr.env("primary")
        assert env["DRTEST_CDN"] == topology.cdn_domain
        script = textwrap.dedent("""
            import json, os, sys, urllib.parse, dns.resolver, requests
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers, resolver.port = [os.environ["DRTEST_DNS"]], int(os.environ["DRTEST_DNS_PORT"])
            name = os.environ["DRTEST_CDN"]
            address = resolver.resolve(name, "A")[0].address
            port = sys.argv[1]
            r = requests.get(f"http://{address}:{port}/drtest/items/" + urllib.parse.quote(sys.argv[2], safe=""), headers={"Host": name}, timeout=10)
            print(json.dumps({"address": address, "status": r.status_code, "body": r.text, "via": r.headers.get("Via", ""),
                              "region": r.headers.get("X-Drtest-Origin-Region"), "failed_over": r.headers.get("X-Drtest-Failed-Over"),
                              "x_cache": r.headers.get("X-Cache")}))
        """)
        key = next(iter(sorted(dr.ledger.latest())))
        port = str(dr.network.gateway_port)  # type: ignore[union-attr]

        def child() -> dict[str, Any]:
            done = subprocess.run([sys.executable, "-c", script, port, key], env=env, capture_output=True, text=True,
                                  timeout=60, check=True)
            return dict(json.loads(done.stdout))

        with dr.network.lock.released():  # type: ignore[union-attr]
            before = child()
        over_network = _region_loss(dr)[0].as_dict()
        with dr.network.lock.released():  # type: ignore[union-attr]
            during = child()
        edge = dr.network.plan.edge  # type: ignore[union-attr]
    assert over_network["cdn"] == in_process["cdn"]
    assert (over_network["rto_s"], over_network["rpo_s"]) == (in_process["rto_s"], in_process["rpo_s"])
    assert before["address"] == edge and before["status"] == 200 and before["body"] == dr.ledger.latest()[key].payload
    assert (before["region"], before["failed_over"], before["x_cache"]) == ("us-east-1", "false", "Miss from cloudfront")
    assert before["via"].endswith(".cloudfront.net (CloudFront)")
    assert (during["status"], during["region"], during["failed_over"]) == (200, "us-west-2", "true")


def test_teardown_disables_the_distribution_before_it_deletes_it(tmp_path: Path) -> None:
    with Harness(Settings(), strategy="warm-standby", blueprint=_blueprint(tmp_path)) as dr:
        ident = dr.topology.cdn_id
        cloudfront = dr.client("cloudfront", "us-east-1")
        etag = cloudfront.get_distribution_config(Id=ident)["ETag"]
        with pytest.raises(botocore.exceptions.ClientError) as refused:  # as CloudFront: an enabled one stays
            cloudfront.delete_distribution(Id=ident, IfMatch=etag)
        assert refused.value.response["Error"]["Code"] == "DistributionNotDisabled"
        delete_distribution(cloudfront, ident)
        assert cloudfront.list_distributions()["DistributionList"].get("Items", []) == []


@pytest.mark.parametrize(("text", "field", "message"), [
    (SHOP.replace("connection_timeout = 5", "connection_timeout = 11"), "cdn.connection_timeout", "expected 1-10, got 11"),
    (SHOP.replace("connection_attempts = 2", "connection_attempts = 0"), "cdn.connection_attempts", "expected 1-3, got 0"),
    (SHOP + "failover_status_codes = [503, 418]\n", "cdn.failover_status_codes", "the status codes CloudFront fails over on"),
    (SHOP + "origin_shield = true\n", "cdn", "origin_shield"),
])
def test_a_bad_cdn_table_names_the_field(tmp_path: Path, text: str, field: str, message: str) -> None:
    with pytest.raises(DrConfigError, match=message) as info:
        load_blueprint(_blueprint(tmp_path, text))
    assert info.value.field == field and str(info.value).startswith(str(tmp_path / "shop.toml"))


def test_backup_and_restore_has_no_dr_load_balancer_to_fail_over_to_and_nothing_is_built(tmp_path: Path) -> None:
    dr = Harness(Settings(), strategy="backup-restore", blueprint=_blueprint(tmp_path))
    with dr, pytest.raises(DrConfigError, match="the backup-restore strategy has none in dr") as info:
        try:
            dr.topology  # noqa: B018 - building it is what is refused
        finally:
            vpcs = {r: dr.client("ec2", r).describe_vpcs()["Vpcs"] for r in dr.regions}
    assert info.value.field == "cdn"
    assert all(v["IsDefault"] for found in vpcs.values() for v in found)  # moto's default VPCs only


def test_the_cdn_figures_survive_the_json_report_and_show_in_the_html_one() -> None:
    from pytest_drtest.measure import EdgeRead, Phases, Result, edge_summary
    from pytest_drtest.report_html import render_html

    reads = [EdgeRead(100.0, 200, "us-east-1", False, 0.0), EdgeRead(105.0, 200, "us-west-2", True, 30.0),
             EdgeRead(110.0, 504, None, True, 60.0)]
    summary = edge_summary(reads)
    assert summary == {"reads": 3, "failed_over": 2, "failed": 1, "wait_s_max": 60.0, "wait_s_total": 90.0,
                       "served_by": {"us-east-1": 1, "us-west-2": 1}}
    result = Result(fault_t=100.0, rto_s=60.0, rpo_s=0.0, lost_writes=[], phases=Phases(), modeled=True, samples=3,
                    failed_samples=1, cdn=summary)
    assert Result.from_dict(result.as_dict()).cdn == summary
    data = {"backend": "moto", "seed": 1, "regions": {"primary": "us-east-1", "dr": "us-west-2"},
            "experiments": [{"scenario": "s", "name": "e", "strategy": "warm-standby", "measured": result.as_dict(),
                             "objectives": {}, "passed": True, "fault": "region-outage(primary)"}]}
    assert "<td>reads through CloudFront: failed over / failed / longest wait</td><td>2 / 1 of 3 / 1m00s</td>" in render_html(data)
