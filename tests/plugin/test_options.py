"""Options and ini keys as users pass them; bad input gets a usage error naming it."""
from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dr-scenario=nope"], "unknown scenario 'nope'; expected one of: active-active, backup-restore, pilot-light, warm-standby, all"),
        (["--dr-seed=abc"], "--dr-seed: expected an integer, got 'abc'"),
        (["--dr-regions=us-east-1,us-east-1"], "the DR region must differ from the primary region"),
        (["--dr-regions=us-east-1,mars-north-1"], "unknown region 'mars-north-1'"),
        (["--dr-regions=us-east-1"], "expected PRIMARY,DR"),
        (["--dr-backend=gcp"], "unknown backend 'gcp'; expected one of: moto, moto-server, localstack, aws"),
        (["--dr-profile=missing.toml"], "--dr-profile: file 'missing.toml' does not exist"),
        (["--dr-clock-start=yesterday"], "--dr-clock-start: expected an ISO 8601 time"),
        (["--dr-scenario=missing/scenario.toml"], "scenario file 'missing/scenario.toml' does not exist"),
    ],
)
def test_bad_options_are_usage_errors(pytester: pytest.Pytester, args, message):
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])
    assert "Traceback" not in result.stderr.str()


def test_bad_ini_latency_line_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ndr_latency =\n    ec2_launch_time = fast\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini dr_latency: ec2_launch_time: 'fast' is not a duration*"])


def test_header_says_where_settings_come_from(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ndr_seed = 9\n")
    pytester.makepyfile("def test_nothing():\n    assert True\n")
    result = pytester.runpytest("--dr-regions=eu-west-1,eu-central-1")
    result.stdout.fnmatch_lines(["drtest: backend=moto (default), seed=9 (ini), regions=eu-west-1,eu-central-1 (command line)*"])
    assert result.ret == 0


def test_help_lists_the_options(pytester: pytest.Pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*disaster-recovery testing (pytest-drtest)*", "*--dr-scenario=VALUE*", "*--dr-backend=VALUE*"])


def test_aws_backend_refuses_without_allowlist(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_uses_dr(dr):
            pass
        """
    )
    result = pytester.runpytest("--dr-backend=aws")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the aws backend sends real requests: give the accounts it may touch with --dr-aws-accounts*"])


def test_bad_ini_gc_mode_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ndr_gc = off\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*dr_gc: expected one of tuned, python, got 'off'*"])


@pytest.mark.parametrize(("mode", "tuned"), [("tuned", True), ("python", False)])
def test_gc_thresholds_are_tuned_while_a_harness_runs_and_put_back_after_the_session(pytester: pytest.Pytester, mode, tuned):
    import gc

    from pytest_drtest.gc_tuning import TUNED_THRESHOLDS, restore

    restore()  # this process's own harnesses may have tuned it already
    before = gc.get_threshold()
    pytester.makeini(f"[pytest]\ndr_gc = {mode}\n")
    pytester.makepyfile(
        f"""
        import gc

        def test_thresholds(dr):
            assert (gc.get_threshold() == {TUNED_THRESHOLDS!r}) is {tuned}
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert gc.get_threshold() == before
