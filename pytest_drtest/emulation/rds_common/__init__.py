"""What the RDS family shares: ARNs, the event log, the PITR window, the data plane plumbing.

Two emulators serve botocore's ``rds`` service: :mod:`pytest_drtest.emulation.rds` (DB instances
that are not cluster members) and :mod:`pytest_drtest.emulation.aurora` (clusters, their member
instances, global clusters). Both derive from :class:`RdsFamilyEmulator`.
"""
from __future__ import annotations

from pytest_drtest.emulation.rds_common.arns import ACCOUNT, parse_rds_arn, rds_arn
from pytest_drtest.emulation.rds_common.base import RdsFamilyEmulator
from pytest_drtest.emulation.rds_common.dataplane import (
    DB_PORT,
    LOCALHOST,
    create_master,
    endpoint_address,
    password_at,
    set_master_password,
    switch_endpoint,
)
from pytest_drtest.emulation.rds_common.events import (
    SOURCE_TYPES,
    RdsEvent,
    RdsEventLog,
    event_log,
)
from pytest_drtest.emulation.rds_common.pitr import TIME_EPSILON, restore_window

__all__ = [
    "ACCOUNT",
    "DB_PORT",
    "LOCALHOST",
    "SOURCE_TYPES",
    "TIME_EPSILON",
    "RdsEvent",
    "RdsEventLog",
    "RdsFamilyEmulator",
    "create_master",
    "endpoint_address",
    "event_log",
    "parse_rds_arn",
    "password_at",
    "rds_arn",
    "restore_window",
    "set_master_password",
    "switch_endpoint",
]
