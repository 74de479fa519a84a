"""The fault catalogue. Every fault is reverted at teardown, also when the test fails.

>>> from pytest_drtest import faults
>>> dr.inject(faults.RegionOutage("primary"))
>>> with dr.inject(faults.PauseReplication("dynamodb", "my-table")):
...     ...  # reverted at the end of the block (or dr.revert(fault))
"""
from __future__ import annotations

from pytest_drtest.faults.base import FAULT_KINDS, Fault, FaultContext, fault_from_spec
from pytest_drtest.faults.catalogue import (
    AzOutage,
    PauseReplication,
    RebootDatabase,
    RegionOutage,
)
from pytest_drtest.faults.data import CorruptDatabase, CorruptTable, DeleteObjects

__all__ = [
    "FAULT_KINDS",
    "AzOutage",
    "CorruptDatabase",
    "CorruptTable",
    "DeleteObjects",
    "Fault",
    "FaultContext",
    "PauseReplication",
    "RebootDatabase",
    "RegionOutage",
    "fault_from_spec",
]
