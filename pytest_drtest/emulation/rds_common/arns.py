"""RDS resource names: ARNs of DB instances, clusters, snapshots and global clusters ([BC:rds])."""
from __future__ import annotations

ACCOUNT = "123456789012"


def rds_arn(region: str, kind: str, name: str) -> str:
    """``arn:aws:rds:<region>:<account>:<kind>:<name>`` (kind: db, cluster, snapshot, cluster-snapshot, global-cluster)."""
    if kind == "global-cluster":
        return f"arn:aws:rds::{ACCOUNT}:global-cluster:{name}"
    return f"arn:aws:rds:{region}:{ACCOUNT}:{kind}:{name}"


def parse_rds_arn(value: str) -> tuple[str | None, str]:
    """``(region, name)`` of an RDS ARN, or ``(None, value)`` for a plain identifier."""
    if value.startswith("arn:aws:rds:"):
        parts = value.split(":")
        return (parts[3] or None), parts[-1]
    return None, value
