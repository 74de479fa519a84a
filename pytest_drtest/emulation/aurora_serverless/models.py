"""Aurora Serverless v2 state: scaling configurations, capacity per instance, pauses and resumes.

Capacity is counted in Aurora capacity units (ACUs), in half-step increments from 0 (versions with
auto-pause) or 0.5 up to 256 (recent versions) or 128 ([BC:rds] ``ServerlessV2ScalingConfiguration``;
[AUR-UG:aurora-serverless-v2.how-it-works] "Aurora Serverless v2 capacity"). ``SecondsUntilAutoPause``
is 300-86,400 s, default 300, and is shown only while the minimum is 0 ACUs
([BC:rds] ``ServerlessV2ScalingConfigurationInfo``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

SERVERLESS_CLASS = "db.serverless"
STEP = 0.5
MAX_ACU = 256.0
MAX_ACU_OLDER = 128.0
PAUSE_MIN, PAUSE_MAX, PAUSE_DEFAULT = 300, 86400, 300
#: Readers in promotion tiers 0 and 1 scale, pause and resume with the writer; tiers 2-15 on their own
#: ([AUR-UG:aurora-serverless-v2.how-it-works] "Choosing the promotion tier"; [AUR-UG:aurora-serverless-v2-auto-pause]).
FOLLOWS_WRITER_TIERS = (0, 1)

#: Aurora PostgreSQL: per major version, the first minor version with Serverless v2, with a
#: minimum of 0 ACUs (auto-pause), and with a maximum of 256 ACUs ([AUR-UG:Concepts.Aurora_Fea_Regions_DB-eng.Feature.ServerlessV2];
#: [AUR-UG:aurora-serverless-v2.how-it-works] capacity table). Majors after the last listed have all three.
SERVERLESS_V2_SINCE = {13: 6, 14: 3, 15: 2, 16: 1}
AUTO_PAUSE_SINCE = {13: 15, 14: 12, 15: 7, 16: 3}
MAX_256_SINCE = {13: 13, 14: 10, 15: 5, 16: 1}
#: Aurora PostgreSQL major versions AWS has released (11-17); anything else is not a version.
KNOWN_MAJORS = range(11, 18)
VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


def parse_version(value: str) -> tuple[int, int] | None:
    """``(major, minor)`` of an Aurora PostgreSQL version, or None when there is no such version."""
    found = VERSION_RE.match(value)
    if found is None or int(found.group(1)) not in KNOWN_MAJORS:
        return None
    return int(found.group(1)), int(found.group(2))


def supports(version: tuple[int, int], table: dict[int, int]) -> bool:
    major, minor = version
    if major > max(table):
        return True
    return major in table and minor >= table[major]


def half_steps(value: float) -> bool:
    return math.isclose(value * 2, round(value * 2), abs_tol=1e-9)


def round_up_half(value: float) -> float:
    return math.ceil(value * 2 - 1e-9) / 2


@dataclass
class ServerlessInstance:
    id: str
    promotion_tier: int
    capacity: float
    last_activity: float
    paused: bool = False
    resumed_at: float | None = None  # while resuming: when it serves again
    history: list[tuple[float, float]] = field(default_factory=list)  # (clock time, ACUs) per evaluation


@dataclass
class ServerlessCluster:
    region: str
    id: str
    arn: str
    min_capacity: float
    max_capacity: float
    seconds_until_auto_pause: int
    instances: dict[str, ServerlessInstance] = field(default_factory=dict)
    writer: str | None = None
    offered_tps: float = 0.0  # the workload a scenario offers (connections + statements per second)
    statements: list[float] = field(default_factory=list)  # clock times of Data API statements
    last_activity: float = 0.0

    def config(self) -> dict[str, float | int]:
        """``ServerlessV2ScalingConfigurationInfo`` as DescribeDBClusters reports it."""
        out: dict[str, float | int] = {"MinCapacity": self.min_capacity, "MaxCapacity": self.max_capacity}
        if self.min_capacity == 0:
            out["SecondsUntilAutoPause"] = self.seconds_until_auto_pause
        return out

    def floor(self) -> float:
        """The least a running instance uses: MinCapacity, or 0.5 ACU when the minimum is 0 (paused: 0)."""
        return max(self.min_capacity, STEP)
