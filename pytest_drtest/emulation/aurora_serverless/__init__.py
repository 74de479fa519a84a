"""Aurora Serverless v2: scaling configurations, capacity on load, auto-pause and resume, restores.

See :mod:`pytest_drtest.emulation.aurora_serverless.responses` and docs/docdb-serverless.md.
"""
from __future__ import annotations

from pytest_drtest.emulation.aurora_serverless.models import (
    SERVERLESS_CLASS,
    ServerlessCluster,
    ServerlessInstance,
)
from pytest_drtest.emulation.aurora_serverless.responses import (
    AuroraServerlessEmulator,
    ServerlessDataApiGate,
)

__all__ = [
    "SERVERLESS_CLASS",
    "AuroraServerlessEmulator",
    "ServerlessCluster",
    "ServerlessDataApiGate",
    "ServerlessInstance",
]
