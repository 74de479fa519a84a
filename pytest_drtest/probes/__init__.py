"""Timed probes through the application's path: sequenced writes with a ledger, and reads."""
from __future__ import annotations

from pytest_drtest.probes.app import AppPath, AppUnavailable
from pytest_drtest.probes.probe import Probe

__all__ = ["AppPath", "AppUnavailable", "Probe"]
