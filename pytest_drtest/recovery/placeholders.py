"""``${...}`` placeholders in documents a scenario names (FIS templates, SSM parameters, ARC plans).

A team's files name its own resources; a file written for the shipped topologies cannot, since
their names, ARNs and the fault's time are only known once they exist. A string holding
``${name}`` gets the topology's value when the file is used (anything else is passed as written):

=============================  ==============================================================
``${region.primary|dr}``       the Region names
``${account}``                 the account (STS)
``${table.NAME[.dr]}``         a blueprint table's physical name (``table_arn.`` for its ARN)
``${bucket.NAME[.dr]}``        a blueprint bucket's name
``${database.primary|dr}``     the database id (RDS instance or Aurora cluster); ``database_arn.``
``${database_secret.primary|dr}``  the Aurora cluster's credentials secret (ARN), for the Data API
``${global_cluster}``          the Aurora global cluster id (active/active)
``${asg.primary|dr}``          the Auto Scaling group's name; ``asg_arn.`` for its ARN
``${hosted_zone_id}``          the topology's hosted zone; ``${record_name}`` the application's name
``${fault_time}``              the first fault's time (ISO 8601, UTC); ``${before_fault}`` one second
                               before it, whole seconds (a restore point just before a corruption)
``${new_table.NAME}``          a fresh name for a table restored from NAME
=============================  ==============================================================
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pytest_drtest.errors import DrConfigError

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_]+)(?:\.([A-Za-z0-9_-]+))?(?:\.(primary|dr))?\}")
NAMES = ("region", "account", "table", "table_arn", "bucket", "database", "database_arn", "database_secret", "global_cluster",
         "asg", "asg_arn", "hosted_zone_id", "record_name", "fault_time", "before_fault", "new_table")
_ROLE_ONLY = ("region", "database", "database_arn", "database_secret", "asg", "asg_arn")  # ${asg.dr}: the part is the region role
_BARE = ("account", "global_cluster", "hosted_zone_id", "record_name", "fault_time", "before_fault")


def check_placeholders(value: Any, *, source: str, path: str = "") -> None:
    """Refuse a ``${...}`` that names nothing known (at load time, before anything is built)."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_placeholders(key, source=source, path=path)
            check_placeholders(item, source=source, path=f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_placeholders(item, source=source, path=f"{path}[{i}]")
    elif isinstance(value, str):
        for match in re.finditer(r"\$\{[^}]*\}", value):
            parsed = PLACEHOLDER.fullmatch(match.group(0))
            name = parsed.group(1) if parsed else ""
            bad_role = name in _ROLE_ONLY and parsed is not None and (parsed.group(2) not in ("primary", "dr") or parsed.group(3))
            if parsed is None or name not in NAMES or bad_role or (name in _BARE) != (parsed.group(2) is None and parsed.group(3) is None):
                raise DrConfigError(
                    f"unknown placeholder {match.group(0)!r}; expected one of: ${{{'}, ${'.join(NAMES)}}} "
                    "(see docs/runbooks.md, placeholders)", source=source, field=path or None,
                )


def resolve(value: Any, topology: Topology, fresh: dict[str, str]) -> Any:
    """``value`` with every placeholder replaced by the topology's value (``fresh``: names made for
    ``${new_table.X}`` in this run, so every mention gets the same name)."""
    if isinstance(value, dict):
        return {resolve(k, topology, fresh): resolve(v, topology, fresh) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, topology, fresh) for v in value]
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: _value(topology, m.group(1), m.group(2), m.group(3), fresh), value)
    return value


def _value(topology: Topology, name: str, part: str | None, role: str | None, fresh: dict[str, str]) -> str:
    from pytest_drtest.topology.build import account_of

    if name in _ROLE_ONLY:
        role, part = part or "primary", None
    stack = topology.stack(role or "primary")
    region = stack.region
    if name == "region":
        return region
    if name == "account":
        return account_of(topology)
    if name in ("table", "table_arn"):
        physical = stack.tables[str(part)]
        return physical if name == "table" else f"arn:aws:dynamodb:{region}:{account_of(topology)}:table/{physical}"
    if name == "bucket":
        return stack.buckets[str(part)]
    if name in ("database", "database_arn"):
        ident = stack.database or ""
        if name == "database":
            return ident
        kind = "cluster" if topology.global_cluster else "db"
        return f"arn:aws:rds:{region}:{account_of(topology)}:{kind}:{ident}"
    if name == "database_secret":
        if not stack.database_secret:
            raise DrConfigError(f"${{database_secret.{role}}}: the topology has no Aurora cluster in {region} "
                                "(only the active/active topology's clusters have a Data API secret)")
        return str(stack.database_secret)
    if name == "global_cluster":
        return topology.global_cluster or ""
    if name in ("asg", "asg_arn"):
        if name == "asg":
            return stack.asg_name or ""
        group = topology.client("autoscaling", region).describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])
        return str(group["AutoScalingGroups"][0]["AutoScalingGroupARN"])
    if name == "hosted_zone_id":
        return topology.zone_id or ""
    if name == "record_name":
        return topology.fqdn
    if name in ("fault_time", "before_fault"):
        faults = [f for f in topology.faults if f.injected_at is not None]
        if not faults:
            raise DrConfigError(f"${{{name}}} is used before any fault was injected")
        t = faults[0].injected_at
        when = topology.clock.datetime(t if name == "fault_time" else t - 1.0)
        return (when.replace(microsecond=0) if name == "before_fault" else when).strftime("%Y-%m-%dT%H:%M:%SZ")
    if name == "new_table":
        from pytest_drtest.recovery.steps import new_table_name

        key = str(part)
        if key not in fresh:
            fresh[key] = new_table_name(topology, key, "restored")
        return fresh[key]
    raise DrConfigError(f"unknown placeholder ${{{name}}}")
