"""A real LocalStack for the tests that ask for it (``localstack`` fixture), started once per session.

Where it comes from, in order:

1. ``$DRTEST_LOCALSTACK_ENDPOINT``: a LocalStack already running there (nothing is started);
2. ``$DRTEST_LOCALSTACK_HOME``, else the repository's ``.ci/.localstack``, when prepared
   (``bash .ci/run`` prepares it): started from there on a free port, stopped at the end;
3. otherwise the tests skip, with the reason (``$DRTEST_LOCALSTACK_SKIP`` when ``.ci/run`` could
   not prepare it, else what is missing).

Under ``CI=true`` a LocalStack that was prepared but does not start (or does not answer) fails
the tests instead of skipping them.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from pytest_drtest.backends.localstack import HOME_ENV, LocalStackServer

REPOSITORY_HOME = Path(__file__).resolve().parents[2] / ".ci" / ".localstack"


@dataclass
class RunningLocalStack:
    endpoint: str
    started_by_us: bool
    startup_s: float | None = None
    dynamodb_s: float | None = None


_figures: list[str] = []


def _unavailable(reason: str, *, prepared: bool) -> None:
    if prepared and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"LocalStack was prepared but is not usable (CI=true): {reason}", pytrace=False)
    pytest.skip(f"LocalStack not available: {reason}")


@pytest.fixture(scope="session")
def localstack() -> Iterator[RunningLocalStack]:
    endpoint = os.environ.get("DRTEST_LOCALSTACK_ENDPOINT")
    if endpoint:
        try:
            requests.get(f"{endpoint.rstrip('/')}/_localstack/health", timeout=5).raise_for_status()
        except requests.RequestException as exc:
            _unavailable(f"DRTEST_LOCALSTACK_ENDPOINT={endpoint} does not answer ({exc.__class__.__name__})", prepared=True)
        yield RunningLocalStack(endpoint.rstrip("/"), started_by_us=False)
        return
    home = Path(os.environ.get(HOME_ENV) or REPOSITORY_HOME)
    missing = LocalStackServer.missing(home)
    if missing:
        _unavailable(os.environ.get("DRTEST_LOCALSTACK_SKIP") or missing, prepared=False)
    server = LocalStackServer(home)
    try:
        server.start()
        server.warm_up()
    except Exception as exc:  # noqa: BLE001 - whatever stops it from starting is the reason
        server.stop()
        _unavailable(f"it did not start from {home}: {exc}", prepared=True)
    _figures.append(
        f"LocalStack from {home}: Ready. after {server.startup_s:.1f} s, "
        f"first DynamoDB answer (DynamoDB Local's JVM) after {server.dynamodb_s:.1f} s more"
    )
    try:
        yield RunningLocalStack(server.endpoint, True, server.startup_s, server.dynamodb_s)
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _figures:
        terminalreporter.write_line(line)
