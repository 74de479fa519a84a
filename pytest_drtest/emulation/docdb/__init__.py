"""Amazon DocumentDB (instance-based clusters and global clusters): the control plane on the clock.

See :mod:`pytest_drtest.emulation.docdb.responses` for what moto does with ``docdb`` and why this
emulator answers the calls itself, and docs/docdb-serverless.md.
"""
from __future__ import annotations

from pytest_drtest.emulation.docdb.models import (
    AVAILABLE,
    CREATING,
    ENGINE,
    FAILING_OVER,
    SWITCHING_OVER,
    DocDbCluster,
    DocDbGlobal,
    DocDbInstance,
    GlobalFailover,
)
from pytest_drtest.emulation.docdb.responses import DocDbEmulator

__all__ = [
    "AVAILABLE",
    "CREATING",
    "ENGINE",
    "FAILING_OVER",
    "SWITCHING_OVER",
    "DocDbCluster",
    "DocDbEmulator",
    "DocDbGlobal",
    "DocDbInstance",
    "GlobalFailover",
]
