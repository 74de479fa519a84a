"""The example service's game days, run as a user runs them: ``pytest --dr-backend=moto-server examples/service``."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "service"


def test_the_example_service_variants_meet_or_miss_their_rto_as_designed(pytester: pytest.Pytester) -> None:
    target = pytester.path / "service"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    result = pytester.runpytest_subprocess("--dr-backend=moto-server", "-p", "no:cacheprovider", "-q", str(target))
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*reconnects*PASS*reboot-database(failover)*", "*dead_connection*never*FAIL*reboot-database(failover)*"])
