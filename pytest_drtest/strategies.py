"""The four DR strategies and their bands ("Disaster Recovery of Workloads on AWS" whitepaper)."""
from __future__ import annotations

from dataclasses import dataclass

from pytest_drtest.errors import DrConfigError


@dataclass(frozen=True)
class Strategy:
    """What the DR region holds and how the strategy recovers."""

    name: str
    dr_capacity: str  # "none" (nothing running), "zero" (ASG at 0), "reduced", "full"
    continuous_replication: bool
    routing: str  # "simple" (repointed by the runbook), "failover", "latency"
    default_runbook: str
    band_rto: str  # the whitepaper's band, as default objectives
    band_rpo: str
    band_text: str


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("backup-restore", "none", False, "simple", "restore-from-backup", "24h", "24h", "RPO/RTO: hours"),
        Strategy("pilot-light", "zero", True, "failover", "dns-failover", "1h", "15m", "RPO/RTO: tens of minutes"),
        Strategy("warm-standby", "reduced", True, "failover", "dns-failover", "15m", "5m", "RPO/RTO: minutes"),
        Strategy("active-active", "full", True, "latency", "shift-traffic", "5m", "5s", "RPO/RTO: near real time"),
    )
}

STRATEGY_NAMES = tuple(STRATEGIES)


def get_strategy(name: str, *, source: str | None = None, field: str = "strategy") -> Strategy:
    """The strategy called ``name``; a clear error listing the four names otherwise."""
    try:
        return STRATEGIES[name]
    except (KeyError, TypeError):
        raise DrConfigError(
            f"unknown strategy {name!r}; expected one of: {', '.join(STRATEGY_NAMES)}", source=source, field=field
        ) from None
