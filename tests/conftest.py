"""Shared fixtures of the plugin's own tests."""
from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import botocore.waiter
import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape

from pytest_drtest.backends.base import ClientFactory
from pytest_drtest.backends.moto import MotoBackend
from pytest_drtest.clock import VirtualClock, WaiterTime
from pytest_drtest.emulation.core import Emulation
from pytest_drtest.gateway.addresses import AddressPlan, claim_slot
from pytest_drtest.profile import LatencyProfile

pytest_plugins = ["pytester"]

#: moto's services the emulated world answers (their models, responses and URL maps).
MOTO_SERVICES = (
    "autoscaling", "awslambda", "backup", "cloudformation", "cloudfront", "cloudwatch", "dax", "dynamodb",
    "dynamodbstreams", "ec2", "ecr", "elasticache", "elb", "elbv2", "events", "fis", "glacier", "iam", "kinesis",
    "kms", "logs", "moto_api", "rds", "rdsdata", "resiliencehub", "resourcegroupstaggingapi", "route53", "s3",
    "s3bucket_path", "secretsmanager", "sqs", "ssm", "sts",
)


def _import_what_inline_runs_share() -> None:
    """Import the plugin's modules and moto's services once, in this process.

    pytester's in-process runs (``pytester.runpytest``) put ``sys.modules`` back as it was before
    each run, so whatever a run imports first is imported again by the next: moto's services (its
    EC2 alone takes a second), botocore's service models (the plugin's shared loader caches them)
    and the plugin itself — about 3 s per run, for every test that runs pytest inside pytest.
    Imported before any test, they are in every snapshot pytester takes, and stay.
    """
    import pytest_drtest

    for info in pkgutil.walk_packages(pytest_drtest.__path__, "pytest_drtest."):
        importlib.import_module(info.name)
    for service in MOTO_SERVICES:
        for part in ("models", "responses", "urls"):
            with contextlib.suppress(ModuleNotFoundError):
                importlib.import_module(f"moto.{service}.{part}")
    for name in ("moto.backend_index", "moto.iam.access_control", "psycopg", "boto3.s3.transfer", "_strptime"):
        importlib.import_module(name)


_import_what_inline_runs_share()


@pytest.fixture
def postgres_or_skip() -> Callable[[Exception], NoReturn]:
    """What a test does when the PostgreSQL data plane cannot start: skip — but in CI (``CI=true``)
    fail, since PostgreSQL is a core dependency (``DataPlaneUnavailable`` says what to install)."""

    def unavailable(exc: Exception) -> NoReturn:
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"PostgreSQL data plane unavailable in CI (CI=true): {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL data plane unavailable: {exc}")

    return unavailable


@pytest.fixture
def redis_server_binary() -> Path:
    """The Redis server the ElastiCache data plane runs: skip without one — but in CI (``CI=true``)
    fail, since ``.ci/run`` installs it (``RedisUnavailable`` says what to install)."""
    from pytest_drtest.dataplane.redis import RedisUnavailable, locate_server

    try:
        return locate_server()
    except RedisUnavailable as exc:
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"Redis data plane unavailable in CI (CI=true): {exc}", pytrace=False)
        pytest.skip(f"Redis data plane unavailable: {exc}")


@dataclass
class EmuEnv:
    """An embedded moto backend with an emulation hub on a virtual clock (no service emulators yet)."""

    clock: VirtualClock
    profile: LatencyProfile
    emulation: Emulation
    clients: ClientFactory  # the users' clients: hooked by the emulation
    backdoor: ClientFactory  # the emulation's own clients: not hooked

    def client(self, service: str, region: str = "us-east-1") -> Any:
        return self.clients.client(service, region)


@pytest.fixture
def emu_env() -> Iterator[EmuEnv]:
    backend = MotoBackend()
    backend.start()
    clock = VirtualClock()
    profile = LatencyProfile(seed=7)
    user_session = backend.new_session()
    backdoor = backend.factory(backend.new_session())
    emulation = Emulation(clock, profile, backdoor)
    slot, claim = claim_slot()
    emulation.addresses = AddressPlan(("us-east-1", "us-west-2"), slot)  # endpoints as the harness places them
    emulation.install_session(user_session)
    saved_time = botocore.waiter.time
    botocore.waiter.time = WaiterTime(clock)  # type: ignore[assignment]
    try:
        yield EmuEnv(clock, profile, emulation, backend.factory(user_session), backdoor)
    finally:
        botocore.waiter.time = saved_time  # type: ignore[assignment]
        emulation.close()
        backend.stop()
        claim.close()


def off_shape(shape: Shape | None, value: Any, path: str = "") -> list[str]:
    """Paths of ``value`` (a parsed answer) that botocore's ``shape`` does not declare."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        found: list[str] = []
        for key, item in value.items():
            if key == "ResponseMetadata" and not path:
                continue
            where = f"{path}.{key}" if path else key
            member = shape.members.get(key)
            found.extend([where] if member is None else off_shape(member, item, where))
        return found
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [p for i, item in enumerate(value) for p in off_shape(shape.member, item, f"{path}[{i}]")]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return [p for k, item in value.items() for p in off_shape(shape.value, item, f"{path}[{k}]")]
    return []


@pytest.fixture
def answers_in_shape(emu_env: EmuEnv) -> Iterator[Callable[[str], None]]:
    """``answers_in_shape("rds")``: at teardown, fail if an answer of the service (moto's as the
    emulation rewrote it, or the emulation's own) held a field its botocore output shape lacks."""
    found: list[str] = []
    services: set[str] = set()

    def check(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.service_model.service_name in services and parsed and "Error" not in parsed:
            found.extend(f"{model.name}: {p}" for p in off_shape(model.output_shape, parsed))

    def watch(service: str) -> None:
        # last of the general after-call handlers: after the emulation's rewrites (botocore calls
        # the handlers of a more specific event name first)
        if not services:
            emu_env.clients.session.events.register_last("after-call", check, unique_id="shape-check")
        services.add(service)

    yield watch
    assert found == [], f"fields AWS does not answer: {sorted(set(found))}"


#: Test files whose tests share one pytest-xdist worker: each builds a module-scoped world once,
#: starts one LocalStack server per run, or listens on fixed loopback addresses. ``--dist loadgroup`` should do it from their ``xdist_group``
#: marks, but pytest-xdist 3.8 cannot read those under pytest 9.2 (pytest-dev/pytest-xdist#1386), so
#: the scheduler groups these files itself (and still honours the marks where xdist can).
ONE_WORKER_FILES = frozenset({
    "tests/backends/test_localstack.py",
    "tests/backends/test_aws_stack.py",  # its stand-in services listen on the same loopback addresses, port 80
    "tests/plugin/test_reports.py",
    "tests/test_restore_verification.py",
    "tests/test_restore_verification_aurora.py",
})


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FileGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path in ONE_WORKER_FILES else super()._split_scope(nodeid)

    return FileGroups(config, log)
