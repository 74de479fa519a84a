"""The Route 53 emulator: health checks, change propagation and answers together."""
from __future__ import annotations

from pytest_drtest.emulation.route53.answers import Answers
from pytest_drtest.emulation.route53.health_checks import HealthChecks
from pytest_drtest.emulation.route53.propagation import ChangePropagation


class Route53Emulator(HealthChecks, ChangePropagation, Answers):
    """Health checks on the clock, change propagation and health-aware answers."""

    def close(self) -> None:
        super().close()  # cancels the checkers and the changes in flight
        for check in self._checks.values():
            check.timer = None
