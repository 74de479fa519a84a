"""The example service's game days, run as a user runs them: ``pytest --dr-backend=moto-server examples/service``."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "service"


@pytest.fixture
def example(pytester: pytest.Pytester) -> Path:
    target = pytester.path / "service"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_a_multi_az_failover_on_the_virtual_clock_tells_the_reconnecting_service_from_the_sticky_one(
        pytester: pytest.Pytester, example: Path) -> None:
    result = pytester.runpytest_subprocess("--dr-backend=moto-server", "-p", "no:cacheprovider", "-q", "-rs", str(example))
    result.assert_outcomes(passed=2, skipped=2)  # the DNS variants need paced time, and say so
    result.stdout.fnmatch_lines(["*reconnects*PASS*reboot-database(failover)*",
                                 "*dead_connection*never*FAIL*reboot-database(failover)*",
                                 "*--dr-clock=paced*"])


def test_a_region_loss_on_paced_time_tells_the_service_that_honours_the_ttl_from_the_one_that_caches_forever(
        pytester: pytest.Pytester, example: Path) -> None:
    result = pytester.runpytest_subprocess("--dr-backend=moto-server", "--dr-clock=paced:120", "-p", "no:cacheprovider",
                                           "-q", "-k", "ttl or forever", str(example))
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*honours_the_ttl*PASS*region-outage(primary)*"])
