"""Runbooks: the recovery steps a team runs after a disaster, as boto3 calls on the run's clock.

A runbook is a callable ``runbook(topology, clock)``. The shipped ones are registered by name;
scenario files may also name ``"package.module:function"``.
"""
from __future__ import annotations

from pytest_drtest.recovery.runbooks import RUNBOOKS, Runbook, resolve_runbook

__all__ = ["RUNBOOKS", "Runbook", "resolve_runbook"]
