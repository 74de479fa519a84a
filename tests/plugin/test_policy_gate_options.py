"""``--dr-policy``, ``--dr-compare``, ``--dr-gate``, ``--dr-html`` and the marker: parsing, precedence, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_drtest.compare import parse_rule, regressions
from pytest_drtest.errors import DrConfigError
from pytest_drtest.objectives import Objectives
from pytest_drtest.policy import disruption_of, load_policy

pytest_plugins = ["pytester"]

API = {"policyName": "gold", "tier": "MissionCritical", "policy": {
    "Software": {"rtoInSecs": 7200, "rpoInSecs": 300}, "Hardware": {"rtoInSecs": 600, "rpoInSecs": 0},
    "AZ": {"rtoInSecs": 300, "rpoInSecs": 0}, "Region": {"rtoInSecs": 3600, "rpoInSecs": 60}}}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("create.json", json.dumps(API)),
        ("describe.json", json.dumps({"policy": {**API, "policyArn": "arn:aws:resiliencehub:us-east-1:123456789012:resiliency-policy/x"}})),
        ("template.yaml", "Resources:\n  Gold:\n    Type: AWS::ResilienceHub::ResiliencyPolicy\n    Properties:\n"
                          "      PolicyName: !Sub '${AWS::StackName}-gold'\n      Tier: MissionCritical\n      Policy:\n"
                          + "".join(f"        {k}: {{RtoInSecs: {v['rtoInSecs']}, RpoInSecs: {v['rpoInSecs']}}}\n" for k, v in API["policy"].items())),
        ("template.json", json.dumps({"Resources": {"Gold": {"Type": "AWS::ResilienceHub::ResiliencyPolicy", "Properties": {
            "PolicyName": "gold", "Policy": {k: {"RtoInSecs": v["rtoInSecs"], "RpoInSecs": v["rpoInSecs"]} for k, v in API["policy"].items()}}}}})),
        ("properties.yml", "PolicyName: gold\nPolicy:\n" + "".join(
            f"  {k}:\n    RtoInSecs: {v['rtoInSecs']}\n    RpoInSecs: '{v['rpoInSecs']}'\n" for k, v in API["policy"].items())),
    ],
)
def test_policy_shapes_aws_writes_read_the_same(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    policy = load_policy(path)
    assert {k: (e.rto, e.rpo) for k, e in policy.entries.items()} == {
        k: (float(v["rtoInSecs"]), float(v["rpoInSecs"])) for k, v in API["policy"].items()
    }


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.json", '{"policy": {"Region": {"rtoInSecs": "fast", "rpoInSecs": 1}}}',
         "field 'policy.Region.rtoInSecs': expected a whole number of seconds >= 0, got 'fast'"),
        ("p.json", '{"policy": {"Planet": {"rtoInSecs": 1, "rpoInSecs": 1}}}',
         "field 'policy.Planet': unknown disruption type 'Planet'; expected one of: Software, Hardware, AZ, Region"),
        ("p.json", '{"policy": {"policy": {"AZ": {"rtoInSecs": 1}}}}', "field 'policy.policy.AZ.rpoInSecs': is required"),
        ("p.json", '{"policy": {"AZ": {"RtoInSecs": 1, "RpoInSecs": 1}}}', "this shape spells them rtoInSecs and rpoInSecs"),
        ("p.json", '{"policy": ', "not valid JSON"),
        ("t.yaml", ("Resources:\n  P:\n    Type: AWS::ResilienceHub::ResiliencyPolicy\n    Properties:\n      Policy:\n"
                    "        AZ: {RtoInSecs: !Ref Rto, RpoInSecs: 0}\n"),
         "field 'Resources.P.Properties.Policy.AZ.RtoInSecs': intrinsic functions (Ref) are not resolved here"),
        ("t.yaml", "Resources:\n  B:\n    Type: AWS::S3::Bucket\n", "field 'Resources': no AWS::ResilienceHub::ResiliencyPolicy resource"),
        ("t.yaml", "a: [", "not valid JSON or YAML"),
        ("t.yaml", "- 1\n", "expected a Resilience Hub policy"),
    ],
)
def test_bad_policy_files_name_the_file_and_the_path_inside(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DrConfigError) as info:
        load_policy(path)
    assert str(info.value).startswith(str(path)) and message in str(info.value), str(info.value)


def test_policy_precedence_marker_over_policy_over_scenario_over_band(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(API), encoding="utf-8")
    policy = load_policy(path)
    band = Objectives.parse("15m", "5m", source="warm-standby band")
    scenario = band.merged(Objectives.parse("10m", None, "99.9%", source="mine.toml", level="scenario"))
    marker = scenario.merged(Objectives.parse(None, "1s", source="@pytest.mark.dr", level="marker"))
    applied, entry = policy.apply(marker, disruption_of(["pause-replication", "region-outage"]))
    assert entry is not None and entry.disruption == "Region"
    assert (applied.rto, applied.rpo, applied.availability) == (3600.0, 1.0, 0.999)
    assert (applied.origin("rto"), applied.origin("rpo"), applied.origin("availability")) == ("policy:Region", "marker", "scenario")
    call = applied.merged(Objectives.parse("1m", source="assert_objectives", level="call"))
    assert call.rto == 60 and call.origin("rto") == "call"
    unchanged, none = policy.apply(scenario, disruption_of(["pause-replication"]))
    assert none is None and unchanged == scenario


@pytest.mark.parametrize(
    ("rule", "then", "now", "regresses"),
    [
        ("rto:10%", 100.0, 110.0, False), ("rto:10%", 100.0, 111.0, True), ("rto:10%", 0.0, 0.5, True),
        ("rto:30s", 100.0, 130.0, False), ("rto:30s", 100.0, 131.0, True), ("rto:0", 100.0, None, True),
        ("rpo:0", 1.25, 1.25, False), ("rpo:0", 1.25, 1.5, True), ("lost_writes:0", 2, 3, True), ("lost_writes:1", 2, 3, False),
        ("availability:0.1%", 0.999, 0.9985, False), ("availability:0.1%", 0.999, 0.997, True),
    ],
)
def test_gate_rules(rule: str, then: float, now: float | None, regresses: bool) -> None:
    parsed = parse_rule(rule)
    assert (parsed.regression(then, now) is not None) is regresses


def test_gate_from_recorded_reports_matches_by_stable_id_across_folders() -> None:
    def report(test: str, rto: float, ident: str | None) -> dict[str, object]:
        measured = {"rto_s": rto, "rpo_s": 0.0, "lost_writes": 0, "availability": {"ok": 9, "total": 10}}
        return {"experiments": [{"test": test, "measured": measured, **({"id": ident} if ident else {})}]}

    old = report("drtest:warm-standby::region-outage", 100.0, None)  # a report from before ids existed
    new = report("gameday/drtest:warm-standby::region-outage", 150.0, "warm-standby::region-outage")
    lines = regressions(new, old, [parse_rule("rto:10%")])
    assert lines == ["warm-standby::region-outage: RTO 1m40s -> 2m30s (+50.0%) breaks rto:10%"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dr-compare=missing.json"], "--dr-compare: file 'missing.json' not found"),
        (["--dr-compare=bad.json"], "--dr-compare: 'bad.json' is not valid JSON"),
        (["--dr-compare=other.json"], "--dr-compare: 'other.json' is not a pytest-drtest JSON report"),
        (["--dr-compare=ok.json", "--dr-gate=speed:10%"], "--dr-gate: unknown rule 'speed:10%'; expected METRIC:THRESHOLD"),
        (["--dr-compare=ok.json", "--dr-gate=rto:ten%"], "--dr-gate: bad number 'ten%' in 'rto:ten%'"),
        (["--dr-compare=ok.json", "--dr-gate=lost_writes:1.5"], "--dr-gate: bad number '1.5' in 'lost_writes:1.5'"),
        (["--dr-compare=ok.json", "--dr-gate=rto:soon"], "--dr-gate: bad number 'soon' in 'rto:soon'"),
        (["--dr-gate=rto:10%"], "--dr-gate 'rto:10%': needs --dr-compare=PREVIOUS.json"),
        (["--dr-policy=nope.yaml"], "--dr-policy: nope.yaml: file not found"),
        (["--dr-policy=bad-policy.json"], "--dr-policy: bad-policy.json: field 'policy.Region.rpoInSecs': expected a whole number"),
        (["--dr-backend=aws", "--dr-aws-accounts=123456789012", "--dr-scenario=warm-standby"],
         "--dr-scenario=warm-standby: the scenario warm-standby builds a shipped topology, whose web tier's application exists only in the emulation"),
    ],
)
def test_bad_report_options_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makefile(".json", bad='{"experiments": [', other='{"tests": []}', ok='{"experiments": []}',
                      **{"bad-policy": '{"policy": {"Region": {"rtoInSecs": 60, "rpoInSecs": -1}}}'})
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert message in err, err
    assert "Traceback" not in err and err.count("ERROR:") == 1  # once, up front


def test_gate_rules_from_the_ini(pytester: pytest.Pytester) -> None:
    pytester.makefile(".json", previous='{"experiments": []}')
    pytester.makeini("[pytest]\ndr_compare = previous.json\ndr_gate =\n    rto:10%\n    rpo:0 lost_writes:0\n")
    pytester.makepyfile("def test_nothing():\n    assert True\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["drtest gate: no regression against previous.json (rto:10%, rpo:0, lost_writes:0)"])


def test_every_bad_marker_is_reported_at_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.dr(rto="fast")
        def test_a(dr):
            pass

        @pytest.mark.dr(availability="most of the time")
        def test_b(dr):
            pass

        @pytest.mark.dr(strategy="hot-standby")
        def test_c(dr):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "3 bad @pytest.mark.dr marker(s)" in err
    assert "test_a: @pytest.mark.dr: rto: 'fast' is not a duration" in err
    assert "test_b: @pytest.mark.dr: availability: expected a percentage like '99.9%', got 'most of the time'" in err
    assert "test_c: @pytest.mark.dr: field 'strategy': unknown strategy 'hot-standby'" in err


def test_marker_blueprint_is_relative_to_the_test_file(pytester: pytest.Pytester) -> None:
    sub = pytester.mkpydir("suite")
    (sub / "shop.toml").write_text('name = "shop"\n[[tables]]\nname = "carts"\n', encoding="utf-8")
    (sub / "test_shop.py").write_text(
        "import pytest\n\n@pytest.mark.dr(blueprint='shop.toml')\ndef test_shop(dr):\n    assert dr.blueprint.name == 'shop'\n",
        encoding="utf-8",
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    (sub / "test_missing.py").write_text(
        "import pytest\n\n@pytest.mark.dr(blueprint='other/shop.toml')\ndef test_missing(dr):\n    pass\n", encoding="utf-8"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"blueprint file 'other/shop.toml' not found (tried {sub / 'other' / 'shop.toml'})" in result.stderr.str()


def test_availability_objective_of_the_marker_fails_with_the_figures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_drtest.probes import AppUnavailable

        class Store:
            def __init__(self, clock):
                self.clock, self.data, self.down_until = clock, {}, None
            def _check(self):
                if self.down_until is not None and self.clock.now() < self.down_until:
                    raise AppUnavailable("HTTP 503")
            def put(self, key, payload):
                self._check(); self.data[key] = payload; return "eu-west-1"
            def get(self, key):
                self._check(); return "eu-west-1", self.data.get(key)
            def read_all(self, keys):
                return "eu-west-1", {k: self.data.get(k) for k in keys}

        @pytest.mark.dr(availability="99.9%", rto="5m")
        def test_outage_of_my_own_app(dr):
            store = Store(dr.clock)
            with dr.probe(path=store, interval="1s") as probe:
                dr.clock.sleep("60s")
                dr.mark_fault("our tooling took the app down")
                store.down_until = dr.clock.now() + 30
                probe.wait_recovered(within="5m")
            dr.assert_objectives(probe.result(), disruption="AZ")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--dr-report=r.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ObjectiveMissed: availability *% (* nines) below objective 99.90% (3.0 nines) (down * of * probed)"])
    record = json.loads((pytester.path / "r.json").read_text())["experiments"][0]
    assert record["disruption"] == "AZ" and record["objectives"]["sources"]["availability"] == "marker"
    assert record["measured"]["availability"]["ok_s"] < record["measured"]["availability"]["total_s"]


def test_story_is_in_time_order_with_one_unit() -> None:
    from pytest_drtest.measure import Milestone, Phases, Result

    result = Result(
        fault_t=100.0, rto_s=40.0, rpo_s=0.0, lost_writes=[], modeled=True, samples=10, failed_samples=4,
        phases=Phases(detected=1.0, health_check_unhealthy=30.0, failover=40.0, first_good_read=40.0, first_good_write=40.0, recovered=40.0),
        milestones=[Milestone(140.0, "dns-switched"), Milestone(100.0, "fault"), Milestone(115.0, "detected")],
    )
    times = [t for t, _, _ in result.events()]
    assert times == sorted(times)
    story = result.story()
    assert story.index("runbook detected +15.0 s") < story.index("health check unhealthy +30.0 s") < story.index("dns switched +40.0 s")
    assert story.index("dns switched +40.0 s") < story.index("failed over +40.0 s")  # the cause before what the probes saw
    assert all(part.endswith(" s") for part in story.split(", "))


def test_runbook_examples_in_the_docs_have_no_region_bound_route53_client() -> None:
    root = Path(__file__).resolve().parents[2]
    for path in [*root.glob("docs/*.md"), *root.glob("examples/*.py"), root / "README.md"]:
        text = path.read_text(encoding="utf-8")
        assert 'client("route53", "us-east-1")' not in text, path
