"""Reports: the terminal summary table, JUnit XML properties and the JSON report."""
from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_drtest.durations import format_duration

if TYPE_CHECKING:
    from pytest_drtest.harness import ExperimentRecord
    from pytest_drtest.restores import RestoreResult
    from pytest_drtest.settings import Settings


@dataclass
class RunReport:
    """Everything measured in one pytest session."""

    settings: Settings
    clock: str = "virtual"
    experiments: list[ExperimentRecord] = field(default_factory=list)
    restores: list[RestoreResult] = field(default_factory=list)
    services: dict[str, str] = field(default_factory=dict)  # service -> what answered it (Backend.placement)

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.settings.backend,
            "services": self.services,
            "clock": self.clock,
            "seed": self.settings.seed,
            "regions": {"primary": self.settings.regions[0], "dr": self.settings.regions[1]},
            "machine": {"python": platform.python_version(), "platform": platform.platform()},
            "experiments": [e.as_dict() for e in self.experiments],
            "restores": [r.as_dict() for r in self.restores],
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")

    def table(self) -> list[str]:
        """The summary: one line per experiment, then one per restore check."""
        lines: list[str] = []
        if self.experiments:
            header = ("scenario", "strategy", "fault", "RTO obj", "RTO", "RPO obj", "RPO", "lost", "verdict", "figures")
            rows = [header]
            for e in self.experiments:
                r = e.result
                rows.append((
                    e.scenario or e.test.split("::")[-1][:28], e.strategy, e.fault[:36],
                    format_duration(e.objectives.rto), "never" if r.rto_s is None else format_duration(r.rto_s),
                    format_duration(e.objectives.rpo), format_duration(r.rpo_s), str(len(r.lost_writes)),
                    "PASS" if e.passed else "FAIL", "modeled" if r.modeled else "measured",
                ))
            lines.extend(_format(rows))
        if self.restores:
            if lines:
                lines.append("")
            rows = [("restore", "source", "target", "as of", "items", "new", "duration", "verdict")]
            for x in self.restores:
                rows.append((
                    x.kind, x.source, x.target, x.restore_time[11:19], f"{x.items_matched}/{x.items_expected}",
                    "yes" if x.new_resource else "NO", format_duration(x.duration_s), "PASS" if x.passed else "FAIL",
                ))
            lines.extend(_format(rows))
        return lines


def _format(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
