"""Clients of an AWS service that acts on other services through their APIs (FIS, SSM Automation,
ARC Region switch): the calls it makes go through the emulation's hooks, as a user's would.

The backdoor (``ServiceEmulator.backdoor``) bypasses the emulators: a reboot made through it would
not fail over. FIS rebooting a database, or an Automation step restoring a table, must be seen by
the RDS or DynamoDB emulator, so these services call through a session of their own on which the
hub's handlers are installed (and removed by ``Emulation.close``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_drtest.backends.base import (
    EMULATOR_CREDENTIALS,
    ClientFactory,
    new_boto3_session,
)

if TYPE_CHECKING:
    from pytest_drtest.emulation.core import Emulation


class ServicePrincipal:
    """Hooked clients of one emulated service, created on first use and cached per (service, region)."""

    def __init__(self, emulation: Emulation) -> None:
        self._emulation = emulation
        self._factory: ClientFactory | None = None

    def client(self, service: str, region: str) -> Any:
        if self._factory is None:
            session = new_boto3_session(**EMULATOR_CREDENTIALS)
            self._emulation.install_session(session)
            backdoor = self._emulation.backdoor
            self._factory = ClientFactory(session, backdoor.endpoint_url, routes=backdoor.routes,
                                          moto_in_process=backdoor.moto_in_process)
        return self._factory.client(service, region)
