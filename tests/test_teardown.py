"""Teardown that always completes, and errors of the world's background threads that fail the test."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.waiter
import pytest

from pytest_drtest.emulation.core import Emulation
from pytest_drtest.errors import DrError
from pytest_drtest.faults.base import Fault, FaultContext
from pytest_drtest.gateway.world import NetworkWorld
from pytest_drtest.harness import Harness
from pytest_drtest.settings import Settings
from pytest_drtest.topology.blueprint import parse_blueprint

pytest_plugins = ["pytester"]

TINY = parse_blueprint({"name": "tiny", "compute": {"capacity": 1}, "tables": [{"name": "orders", "seed_items": 2}]},
                       "tiny.toml")


@dataclass
class RevertFails(Fault):
    """A fault whose revert raises (after noting that it ran)."""

    kind = "revert-fails"
    ran: list[str] | None = None

    def inject(self, ctx: FaultContext) -> None:
        pass

    def revert(self, ctx: FaultContext) -> None:
        assert self.ran is not None
        self.ran.append("revert the fault")
        raise RuntimeError("cannot revert")


class CloseFails:
    """A probe path whose close raises."""

    def __init__(self, ran: list[str]) -> None:
        self.ran = ran

    def put(self, key: str, payload: str) -> str:
        return "us-east-1"

    def get(self, key: str) -> tuple[str, str | None]:
        return "us-east-1", None

    def read_all(self, keys: list[str]) -> tuple[str, dict[str, str | None]]:
        return "us-east-1", {}

    def close(self) -> None:
        self.ran.append("close the probe")
        raise OSError("connection already gone")


def failing_after(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, ran: list[str], label: str) -> None:
    """``owner.name`` does its work, then raises."""
    real = getattr(owner, name)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        real(self, *args, **kwargs)
        ran.append(label)
        raise ValueError(f"{label} failed")

    monkeypatch.setattr(owner, name, wrapper)


def test_an_undo_step_that_raises_does_not_stop_the_later_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_drtest.backends.moto import MotoBackend

    ran: list[str] = []
    failing_after(monkeypatch, NetworkWorld, "stop", ran, "stop the network world")
    failing_after(monkeypatch, Emulation, "close", ran, "close the emulation")
    failing_after(monkeypatch, MotoBackend, "stop", ran, "stop the backend")
    environ, waiter_time, default_session = dict(os.environ), botocore.waiter.time, boto3.DEFAULT_SESSION

    dr = Harness(Settings(backend="moto-server"), strategy="warm-standby", blueprint=TINY).start()
    assert dr.network is not None
    gateway = dr.network.gateways[dr.regions[0]]
    dr.inject(RevertFails(ran=ran))
    dr.probe(path=CloseFails(ran))
    assert botocore.waiter.time is not waiter_time and boto3.DEFAULT_SESSION is not default_session
    with pytest.raises(DrError) as failed:
        dr.close()

    assert ran == ["close the probe", "revert the fault", "stop the network world", "close the emulation",
                   "stop the backend"]
    message = str(failed.value)
    assert message.startswith("teardown incomplete (5 steps failed): closing a probe: OSError: connection already gone; "
                              "reverting revert-fails: RuntimeError: cannot revert; stopping the network world: ")
    assert "closing the emulation: ValueError: close the emulation failed" in message
    assert message.endswith("stopping the backend: ValueError: stop the backend failed")
    # and every step ran all the same: patched globals back, servers gone, moto's environment undone
    assert botocore.waiter.time is waiter_time and boto3.DEFAULT_SESSION is default_session
    assert dict(os.environ) == environ
    with socket.socket() as sock:
        sock.settimeout(1)
        assert sock.connect_ex((gateway.host, gateway.port)) != 0
    dr.close()  # idempotent: nothing raised twice


def test_an_interrupt_in_an_undo_step_still_lets_the_later_ones_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_drtest.backends.moto import MotoBackend

    stopped: list[str] = []
    real_stop = MotoBackend.stop

    def interrupted(self: Emulation) -> None:
        raise KeyboardInterrupt

    def stop(self: MotoBackend) -> None:
        real_stop(self)
        stopped.append("backend")

    monkeypatch.setattr(Emulation, "close", interrupted)
    monkeypatch.setattr(MotoBackend, "stop", stop)
    waiter_time = botocore.waiter.time
    dr = Harness(Settings(), strategy="warm-standby").start()
    with pytest.raises(KeyboardInterrupt):
        dr.close()
    assert stopped == ["backend"] and botocore.waiter.time is waiter_time


# -- errors in the world's threads fail the test that caused them ------------------------------------------
BUGGY_WORLD = '''
import json
import urllib.error
import urllib.request

import pytest
from moto.dynamodb.models import DynamoDBBackend


@pytest.fixture
def emulator_bug(monkeypatch):
    def put_item(self, *args, **kwargs):
        raise KeyError("an emulator bug")

    monkeypatch.setattr(DynamoDBBackend, "put_item", put_item)


def put_through_the_gateway(dr):
    """PutItem from 'another process': an HTTP request to the primary region's gateway."""
    dr.client("dynamodb").create_table(
        TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    request = urllib.request.Request(
        dr.network.gateway_url(dr.regions[0]), method="POST",
        data=json.dumps({"TableName": "t", "Item": {"pk": {"S": "x"}}}).encode(),
        headers={"X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260105/us-east-1/dynamodb/aws4_request, "
                                  "SignedHeaders=host, Signature=0"})
    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request, timeout=30)
    assert answered.value.code == 500  # the client got an answer; the bug is the test's business


def test_fails_at_its_next_clock_sleep(emulator_bug, dr):
    put_through_the_gateway(dr)
    dr.clock.sleep("1s")
    raise AssertionError("not reached: the sleep raises the gateway's error")


def test_fails_when_its_body_ends(emulator_bug, dr):
    put_through_the_gateway(dr)
'''


def test_an_error_in_a_gateway_request_thread_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_buggy=BUGGY_WORLD)
    result = pytester.runpytest("--dr-backend=moto-server", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)  # failed in the call phase: not teardown errors
    result.stdout.fnmatch_lines([
        "*_ test_fails_at_its_next_clock_sleep _*",
        "*dr.clock.sleep(\"1s\")",
        "E       KeyError: 'an emulator bug'",
        "E       (raised in a background thread of the emulated world: gateway us-east-1)",
        "*_ test_fails_when_its_body_ends _*",
        "E       KeyError: 'an emulator bug'",
        "E       (raised in a background thread of the emulated world: gateway us-east-1)",
    ])
    assert "not reached" not in result.stdout.str()
