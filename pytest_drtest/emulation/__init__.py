"""Managed-service behaviour for emulated backends (moto, moto server, LocalStack).

Emulators store DR configuration but do not behave like AWS: nothing fails over, replicates or
takes time. :class:`~pytest_drtest.emulation.core.Emulation` hooks botocore's events of the
sessions the harness hands out and, per service, adds what is missing — on the run's clock.
"""
from __future__ import annotations

from pytest_drtest.emulation.core import (
    AwsError,
    Call,
    Emulation,
    ServiceEmulator,
    World,
)

__all__ = ["AwsError", "Call", "Emulation", "ServiceEmulator", "World"]
