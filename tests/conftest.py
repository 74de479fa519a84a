"""Shared fixtures of the plugin's own tests."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import botocore.waiter
import pytest

from pytest_drtest.backends.base import ClientFactory
from pytest_drtest.backends.moto import MotoBackend
from pytest_drtest.clock import VirtualClock, WaiterTime
from pytest_drtest.emulation.core import Emulation
from pytest_drtest.gateway.addresses import AddressPlan, claim_slot
from pytest_drtest.profile import LatencyProfile

pytest_plugins = ["pytester"]


@pytest.fixture
def postgres_or_skip() -> Callable[[Exception], NoReturn]:
    """What a test does when the PostgreSQL data plane cannot start: skip — but in CI (``CI=true``)
    fail, since PostgreSQL is a core dependency (``DataPlaneUnavailable`` says what to install)."""

    def unavailable(exc: Exception) -> NoReturn:
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"PostgreSQL data plane unavailable in CI (CI=true): {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL data plane unavailable: {exc}")

    return unavailable


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
