"""A real LocalStack for the tests that ask for it (``localstack`` fixture), started once per session;
and moto as a real account, offline (``account`` fixture).

Where it comes from, in order:

1. ``$DRTEST_LOCALSTACK_ENDPOINT``: a LocalStack already running there (nothing is started);
2. ``$DRTEST_LOCALSTACK_HOME``, else the repository's ``.ci/.localstack``, when prepared
   (``bash .ci/run`` prepares it): started from there on a free port, stopped at the end;
3. otherwise the tests skip, with the reason (``$DRTEST_LOCALSTACK_SKIP`` when ``.ci/run`` could
   not prepare it, else what is missing).

Under ``CI=true`` a LocalStack that was prepared but does not start (or does not answer) fails
the tests instead of skipping them.

The tests that use it run last, and LocalStack starts in the background as soon as the session
is collected: its start and DynamoDB Local's JVM (10-20 s on 2 cores) overlap the other tests.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from pytest_drtest.backends.aws import AwsBackend
from pytest_drtest.backends.localstack import HOME_ENV, LocalStackServer

REPOSITORY_HOME = Path(__file__).resolve().parents[2] / ".ci" / ".localstack"


@dataclass
class RunningLocalStack:
    endpoint: str
    started_by_us: bool
    startup_s: float | None = None
    dynamodb_s: float | None = None


class _Starter:
    """Starts LocalStack from a prepared folder in a thread; :meth:`result` waits for it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.server = LocalStackServer(home)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="drtest-localstack-start", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.server.start()
            self.server.warm_up()
        except BaseException as exc:  # noqa: BLE001 - reported by the fixture
            self.error = exc
            self.server.stop()

    def result(self) -> LocalStackServer:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.server

    def stop(self) -> None:
        self.thread.join()
        self.server.stop()


_state: dict[str, Any] = {"starter": None, "figures": []}


def _home() -> Path:
    return Path(os.environ.get(HOME_ENV) or REPOSITORY_HOME)


def _wants_localstack(item: pytest.Item) -> bool:
    return "localstack" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_wants_localstack)  # stable: the LocalStack tests last, in their order


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly or os.environ.get("DRTEST_LOCALSTACK_ENDPOINT"):
        return
    if not any(_wants_localstack(i) for i in session.items):
        return
    if LocalStackServer.missing(_home()) is None:
        _state["starter"] = _Starter(_home())


def pytest_unconfigure() -> None:
    starter, _state["starter"] = _state["starter"], None
    if starter is not None:
        starter.stop()


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
    home = _home()
    missing = LocalStackServer.missing(home)
    if missing:
        _unavailable(os.environ.get("DRTEST_LOCALSTACK_SKIP") or missing, prepared=False)
    starter = _state["starter"] or _Starter(home)
    _state["starter"] = starter
    try:
        server = starter.result()
    except Exception as exc:  # noqa: BLE001 - whatever stops it from starting is the reason
        _unavailable(f"it did not start from {home}: {exc}", prepared=True)
    _state["figures"].append(
        f"LocalStack from {home}: Ready. after {server.startup_s:.1f} s, "
        f"first DynamoDB answer (DynamoDB Local's JVM) after {server.dynamodb_s:.1f} s more"
    )
    try:
        yield RunningLocalStack(server.endpoint, True, server.startup_s, server.dynamodb_s)
    finally:
        _state["starter"] = None
        starter.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _state["figures"]:
        terminalreporter.write_line(line)


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto as the account, offline; teardown retries without waiting."""
    from moto import mock_aws

    from pytest_drtest.backends.moto import _speed_up_moto

    _speed_up_moto()
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
                       "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(AwsBackend, "sweep_passes", 2)
    monkeypatch.setattr(AwsBackend, "sweep_wait_s", 0.0)
    with mock_aws():
        yield
