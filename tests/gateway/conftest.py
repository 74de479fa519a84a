"""Helpers of the network tests: the AWS CLI and other processes as clients of the emulated world."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_drtest.harness import Harness
from pytest_drtest.settings import Settings
from pytest_drtest.topology.blueprint import parse_blueprint

AWS = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")


class Cli:
    """The AWS CLI v1 in a subprocess, pointed at a region of the world by ``dr.env(region)`` only."""

    def __init__(self, dr: Harness) -> None:
        self.dr = dr

    def run(self, region: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        if AWS is None:
            pytest.fail("the AWS CLI is not installed (it is in the test extras: pip install -e '.[test]')")
        env = {**os.environ, **self.dr.env(region), "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
        result = subprocess.run([AWS, *args, "--cli-connect-timeout", "2", "--output", "json"], env=env,
                                capture_output=True, text=True, timeout=60, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def json(self, region: str, *args: str) -> Any:
        out = self.run(region, *args).stdout
        return json.loads(out) if out.strip() else {}


@pytest.fixture
def world() -> Iterator[Harness]:
    """A started harness with the world served on the network (no topology built yet)."""
    with Harness(Settings(backend="moto-server"), strategy="warm-standby") as dr:
        yield dr


@pytest.fixture
def cli(world: Harness) -> Cli:
    return Cli(world)


def small_blueprint(**extra: Any) -> Any:
    """The web-app blueprint without the database and with few seed items: quick to build."""
    data: dict[str, Any] = {"name": "small-app", "compute": {"capacity": 2}, "tables": [{"name": "orders", "seed_items": 5}],
                            "buckets": [{"name": "assets", "seed_objects": 1}], **extra}
    return parse_blueprint(data, "small-app.toml")
