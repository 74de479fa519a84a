"""Health checks observed on the clock.

[R53-DG:dns-failover-determining-health-of-endpoints]: a new check is healthy until data arrives
(an inverted one unhealthy); the status flips after ``FailureThreshold`` consecutive results the
other way, observed every ``RequestInterval`` seconds. [R53-DG:health-checks-creating-values]:
``Disabled`` checks are always healthy, ``Inverted`` swaps, a ``CALCULATED`` check is healthy while
at least ``HealthThreshold`` children are. moto reports every check ``Success``.
"""
from __future__ import annotations

from typing import Any

from pytest_drtest.emulation.core import Call
from pytest_drtest.emulation.route53.models import (
    CHECKERS,
    STATUS_FAILURE,
    STATUS_SUCCESS,
    HealthCheck,
    Route53Model,
    dns_name,
)


class HealthChecks(Route53Model):
    """``CreateHealthCheck``/``UpdateHealthCheck``/``DeleteHealthCheck``/``GetHealthCheckStatus`` on the clock."""

    def healthy(self, check_id: str) -> bool:
        """The check's status as Route 53 uses it for routing now (KeyError if unknown)."""
        return self._checks[check_id].reported

    def transitions(self, check_id: str) -> list[tuple[float, bool]]:
        """Every status change after creation: ``(clock time, healthy)``."""
        return list(self._checks[check_id].transitions)

    def check_for_host(self, host: str) -> str | None:
        """The id of the (first live) health check that watches ``host``."""
        wanted = dns_name(host)
        for check in self._checks.values():
            if not check.deleted and check.host == wanted:
                return check.check_id
        return None

    def after_CreateHealthCheck(self, call: Call) -> None:
        assert call.parsed is not None
        check_id = call.parsed["HealthCheck"]["Id"]
        if check_id in self._checks:
            return  # same CallerReference and config: AWS returns the existing check
        config = dict(call.params.get("HealthCheckConfig", {}))
        check = HealthCheck(
            check_id=check_id,
            config=config,
            created_at=self.clock.now(),
            # Defaults from the Route 53 developer guide: RequestInterval 30 s, FailureThreshold 3.
            interval=float(config.get("RequestInterval") or self.profile.value("route53_health_check_interval")),
            failure_threshold=int(config.get("FailureThreshold") or self.profile.value("route53_failure_threshold")),
        )
        check.reported = self._status(check)  # an inverted new check starts unhealthy
        self._checks[check_id] = check
        self._start_observing(check)
        self._refresh()

    def after_UpdateHealthCheck(self, call: Call) -> None:
        check = self._checks.get(call.params["HealthCheckId"])
        if check is None:
            return
        was_disabled = check.disabled
        for key, value in call.params.items():
            if key not in ("HealthCheckId", "HealthCheckVersion", "ResetElements"):
                check.config[key] = value
        for element in call.params.get("ResetElements", []):
            check.config.pop(element, None)
        if "FailureThreshold" in call.params:
            check.failure_threshold = int(call.params["FailureThreshold"])
        if check.disabled != was_disabled:
            if check.timer is not None:
                check.timer.cancel()
                check.timer = None
            if not check.disabled:
                # Checking starts again from scratch: healthy until data, first result one interval later.
                check.measured_healthy, check.streak = True, 0
                self._start_observing(check)
        self._refresh()

    def after_DeleteHealthCheck(self, call: Call) -> None:
        check = self._checks.get(call.params["HealthCheckId"])
        if check is not None:
            check.deleted = True
            if check.timer is not None:
                check.timer.cancel()
                check.timer = None
            self._refresh()

    def after_GetHealthCheckStatus(self, call: Call) -> None:
        """One observation per checker region, with the last result and its clock time ([BC:route53])."""
        assert call.parsed is not None
        check = self._checks.get(call.params["HealthCheckId"])
        if check is None:
            return
        observations: list[dict[str, Any]] = []
        if check.last_observed_at is not None and check.last_result is not None:
            status = STATUS_SUCCESS if check.last_result else STATUS_FAILURE
            checked = self.clock.datetime(check.last_observed_at)
            observations = [
                {"Region": region, "IPAddress": ip, "StatusReport": {"Status": status, "CheckedTime": checked}}
                for region, ip in CHECKERS
            ]
        call.parsed["HealthCheckObservations"] = observations

    # -- observing --------------------------------------------------------------------------
    def _start_observing(self, check: HealthCheck) -> None:
        if check.disabled or check.host is None or check.kind == "CALCULATED":
            return
        check.timer = self.every(
            check.interval, lambda: self._observe(check), name=f"route53 health check {check.check_id}"
        )

    def _observe(self, check: HealthCheck) -> None:
        """One round of the checkers: the status flips after FailureThreshold opposite results ([BC:route53])."""
        assert check.host is not None
        result = self.emulation.endpoint_healthy(check.host)
        check.last_result, check.last_observed_at = result, self.clock.now()
        if result == check.measured_healthy:
            check.streak = 0
        else:
            check.streak += 1
            if check.streak >= check.failure_threshold:
                check.measured_healthy, check.streak = result, 0
        self._refresh()

    def _status(self, check: HealthCheck) -> bool:
        """The status Route 53 routes on.

        Disabled: always healthy, and Inverted still applies ("in disabled state, you can also
        invert the status", [BC:route53] UpdateHealthCheck Disabled). CALCULATED: healthy when at
        least HealthThreshold children are (0 = always healthy; above the child count = never);
        a disabled child counts as healthy. [R53-DG:health-checks-creating-values]
        """
        if check.deleted:
            return check.reported
        if check.disabled:
            base = True
        elif check.kind == "CALCULATED":
            # Children are never CALCULATED themselves, and _refresh settles them first.
            children = [self._checks.get(child) for child in check.config.get("ChildHealthChecks", [])]
            healthy_children = sum(
                1
                for child in children
                if child is not None and not child.deleted and (child.disabled or child.reported)
            )
            base = healthy_children >= int(check.config.get("HealthThreshold", 1))
        else:
            base = check.measured_healthy
        return base != check.inverted

    def _refresh(self) -> None:
        """Re-derive every status (children first) and record the flips with their clock times."""
        now = self.clock.now()
        ordered = sorted(self._checks.values(), key=lambda c: c.kind == "CALCULATED")
        for check in ordered:
            status = self._status(check)
            if status != check.reported:
                check.reported = status
                check.transitions.append((now, status))
