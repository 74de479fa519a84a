"""Run-wide settings: from command-line options, ini keys or defaults, remembering where each came from."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_drtest.backends import BACKEND_NAMES
from pytest_drtest.clock import DEFAULT_EPOCH
from pytest_drtest.errors import DrConfigError
from pytest_drtest.profile import LatencyProfile
from pytest_drtest.regions import check_region_pair

if TYPE_CHECKING:
    from pytest_drtest.policy import ResiliencyPolicy

DEFAULT_REGIONS = ("us-east-1", "us-west-2")


@dataclass
class Settings:
    """Everything a run needs to know; ``origins`` says where each value came from."""

    backend: str = "moto"
    seed: int = 1
    regions: tuple[str, str] = DEFAULT_REGIONS
    regions_given: bool = False
    scenario: str | None = None
    report: Path | None = None
    profile_file: Path | None = None
    latency_lines: list[str] = field(default_factory=list)
    endpoint: str | None = None
    aws_accounts: tuple[str, ...] = ()
    aws_fis_role: str | None = None  # the role FIS experiments run as on aws (--dr-aws-fis-role)
    plan: bool = False  # --dr-plan: print what a game day on aws would do, then exit
    clock_start: _dt.datetime = DEFAULT_EPOCH
    clock_mode: str = "virtual"  # "virtual" or "paced"
    clock_speed: float = 0.0  # paced: modeled seconds per real second
    origins: dict[str, str] = field(default_factory=dict)
    # reports and gates (plugin options --dr-html, --dr-compare, --dr-gate, --dr-policy)
    html: Path | None = None
    policy: ResiliencyPolicy | None = None
    gc: str = "tuned"  # ini dr_gc: the garbage collector's thresholds (pytest_drtest.gc_tuning)

    def validate(self) -> None:
        if self.backend not in BACKEND_NAMES:
            raise DrConfigError(f"--dr-backend: unknown backend {self.backend!r}; expected one of: {', '.join(BACKEND_NAMES)}")
        check_region_pair(*self.regions, source="--dr-regions")
        if self.profile_file is not None and not self.profile_file.is_file():
            raise DrConfigError(f"--dr-profile: file {str(self.profile_file)!r} does not exist")
        self.build_profile()  # fail early on bad latency overrides

    def build_profile(self, scenario_latency: dict[str, Any] | None = None, scenario_source: str = "scenario") -> LatencyProfile:
        """Defaults, then the scenario's [latency], then the profile file, then ini ``dr_latency`` lines."""
        profile = LatencyProfile(seed=self.seed)
        for key, value in (scenario_latency or {}).items():
            profile.override(key, value, origin=f"{scenario_source} [latency]")
        if self.profile_file is not None:
            profile.load_file(self.profile_file)
        profile.apply_lines(self.latency_lines, origin="ini dr_latency")
        return profile


def parse_regions(value: str) -> tuple[str, str]:
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 2 or not all(parts):
        raise DrConfigError(f"--dr-regions: expected PRIMARY,DR like 'us-east-1,us-west-2', got {value!r}")
    return check_region_pair(parts[0], parts[1], source="--dr-regions")


def parse_seed(value: str) -> int:
    try:
        seed = int(value)
    except (TypeError, ValueError):
        raise DrConfigError(f"--dr-seed: expected an integer, got {value!r}") from None
    if seed < 0:
        raise DrConfigError(f"--dr-seed: expected a non-negative integer, got {value!r}")
    return seed


def parse_fis_role(value: str) -> str:
    """An IAM role ARN (``arn:aws:iam::123456789012:role/NAME``, paths allowed)."""
    import re

    if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}", value.strip()):
        raise DrConfigError(f"--dr-aws-fis-role: expected an IAM role ARN like arn:aws:iam::123456789012:role/fis-gameday, "
                            f"got {value!r}")
    return value.strip()


def parse_clock_start(value: str) -> _dt.datetime:
    try:
        when = _dt.datetime.fromisoformat(value)  # Python 3.11 reads a trailing Z
    except ValueError:
        raise DrConfigError(f"--dr-clock-start: expected an ISO 8601 time like 2026-01-05T00:00:00Z, got {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=_dt.UTC)
