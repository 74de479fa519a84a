"""The summary shows a runbook's own recovery time next to the probe's RTO."""
from __future__ import annotations

from pytest_drtest.report import summary_lines


def _experiment(**extra: object) -> dict[str, object]:
    return {"scenario": "s", "name": "lose-east", "id": "s::lose-east", "strategy": "warm-standby", "passed": True, "fault": "-",
            "objectives": {"rto_s": 1800.0}, "measured": {"rto_s": 169.0, "rpo_s": 0.0, "lost_writes": 0, "modeled": True}, **extra}


def test_the_runbook_recovery_time_is_next_to_the_rto() -> None:
    lines = summary_lines({"backend": "moto", "seed": 1, "experiments": [_experiment(runbook_rto_s=151.0), _experiment(name="other")]})
    rows = [line for line in lines if line.startswith("s ")]
    assert "2m49s (runbook 2m31s)" in rows[0]
    assert "(runbook" not in rows[1]
