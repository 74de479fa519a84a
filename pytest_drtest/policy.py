"""AWS Resilience Hub resiliency policies: RTO and RPO per disruption type, applied to the faults of that type.

A policy file is read in any of the shapes AWS writes it:

- the API's document, as sent to ``CreateResiliencyPolicy``: ``{"policy": {"Region": {"rtoInSecs": 3600,
  "rpoInSecs": 300}, ...}, "policyName": ...}`` (Resilience Hub API reference, CreateResiliencyPolicy and
  the FailurePolicy data type: both figures are integers >= 0);
- the answer of ``DescribeResiliencyPolicy``: ``{"policy": {"policy": {...}, "policyName": ...}}``;
- a CloudFormation template (JSON or YAML) with one ``AWS::ResilienceHub::ResiliencyPolicy`` resource,
  or just that resource's ``Properties``: ``{"Policy": {"Software": {"RtoInSecs": ..., "RpoInSecs": ...}}}``
  (CloudFormation template reference, AWS::ResilienceHub::ResiliencyPolicy and its FailurePolicy).

The four disruption types are Resilience Hub's: ``Software`` (the application), ``Hardware`` (the
infrastructure), ``AZ`` and ``Region``. Faults map to them by kind (:data:`FAULT_DISRUPTION`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_drtest.errors import DrConfigError
from pytest_drtest.objectives import Objectives

DISRUPTION_TYPES = ("Software", "Hardware", "AZ", "Region")
RESOURCE_TYPE = "AWS::ResilienceHub::ResiliencyPolicy"

#: The disruption type of each fault kind. ``pause-replication`` has none: on its own it does not
#: disrupt the service (it makes a following fault lose more).
FAULT_DISRUPTION: dict[str, str] = {
    "region-outage": "Region",
    "az-outage": "AZ",
    "reboot-database": "Hardware",
    "corrupt-table": "Software",
    "corrupt-database": "Software",
    "delete-objects": "Software",
}
_BREADTH = {name: rank for rank, name in enumerate(DISRUPTION_TYPES)}


def disruption_of(fault_kinds: list[str] | tuple[str, ...]) -> str | None:
    """The disruption type of an experiment: the broadest of its faults' (a region outage during a
    corruption is a Region disruption); None when no fault has a type."""
    types = [FAULT_DISRUPTION[k] for k in fault_kinds if k in FAULT_DISRUPTION]
    return max(types, key=_BREADTH.__getitem__) if types else None


@dataclass(frozen=True)
class PolicyEntry:
    """One FailurePolicy of the policy: the RTO and RPO for a disruption type, in seconds."""

    disruption: str
    rto: float
    rpo: float

    def as_dict(self) -> dict[str, Any]:
        return {"rto_s": self.rto, "rpo_s": self.rpo}


@dataclass(frozen=True)
class ResiliencyPolicy:
    """A resiliency policy read from ``source``."""

    name: str
    source: str
    entries: dict[str, PolicyEntry] = field(default_factory=dict)
    tier: str | None = None
    shape: str = "api"  # api, describe, cloudformation-template, cloudformation-properties

    def entry(self, disruption: str | None) -> PolicyEntry | None:
        return None if disruption is None else self.entries.get(disruption)

    def apply(self, objectives: Objectives, disruption: str | None) -> tuple[Objectives, PolicyEntry | None]:
        """``objectives`` with this policy's entry for ``disruption`` over every value not set by a
        marker or an ``assert_objectives`` call; the entry used (None: the policy has none)."""
        entry = self.entry(disruption)
        if entry is None:
            return objectives, None
        applied = objectives.under_policy(entry.rto, entry.rpo, f"policy:{entry.disruption}", f"{self.source} {entry.disruption}")
        return applied, entry

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "source": self.source, "tier": self.tier, "shape": self.shape,
            "entries": {k: v.as_dict() for k, v in self.entries.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResiliencyPolicy:
        entries = {k: PolicyEntry(k, float(v["rto_s"]), float(v["rpo_s"])) for k, v in (data.get("entries") or {}).items()}
        return cls(str(data.get("name", "")), str(data.get("source", "")), entries, data.get("tier"), str(data.get("shape", "api")))


def _yaml_loader() -> Any:
    """A safe YAML loader that reads CloudFormation's short-form tags (``!Ref``, ``!Sub``...) as
    ``{"Ref": ...}``-style mappings instead of refusing the template."""
    import yaml

    class CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    def intrinsic(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
        name = suffix if suffix == "Ref" or suffix == "Condition" else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    CfnLoader.add_multi_constructor("!", intrinsic)
    return CfnLoader


def load_policy(path: str | Path) -> ResiliencyPolicy:
    """Read a policy file (``.json``, ``.yaml``/``.yml``/``.template``; anything else is tried as JSON, then YAML)."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise DrConfigError("file not found", source=source)
    text = path.read_text(encoding="utf-8")
    data: Any
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DrConfigError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", source=source) from None
    else:
        import yaml

        try:
            data = yaml.load(text, Loader=_yaml_loader())  # a SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            raise DrConfigError(f"not valid JSON or YAML: {getattr(exc, 'problem', None) or exc}{where}", source=source) from None
    return parse_policy(data, source, default_name=path.stem)


def parse_policy(data: Any, source: str, *, default_name: str = "policy") -> ResiliencyPolicy:
    """Recognise the shape of ``data`` and read its failure policies; errors name ``source`` and the path inside it."""
    expected = (
        'expected a Resilience Hub policy: {"policy": {...}} (CreateResiliencyPolicy), a DescribeResiliencyPolicy '
        f'answer, a CloudFormation template with an {RESOURCE_TYPE} resource, or its Properties ({{"Policy": {{...}}}})'
    )
    if not isinstance(data, dict):
        raise DrConfigError(f"{expected}; got {type(data).__name__}", source=source)
    if "Resources" in data:
        resources = data["Resources"]
        if not isinstance(resources, dict):
            raise DrConfigError("expected a mapping of logical ids to resources", source=source, field="Resources")
        found = [k for k, v in resources.items() if isinstance(v, dict) and v.get("Type") == RESOURCE_TYPE]
        if not found:
            raise DrConfigError(f"no {RESOURCE_TYPE} resource in the template", source=source, field="Resources")
        if len(found) > 1:
            raise DrConfigError(
                f"{len(found)} {RESOURCE_TYPE} resources ({', '.join(found)}); keep one per policy file",
                source=source, field="Resources",
            )
        logical = found[0]
        props = resources[logical].get("Properties")
        path = f"Resources.{logical}.Properties"
        if not isinstance(props, dict):
            raise DrConfigError("expected the resource's properties (a mapping)", source=source, field=path)
        return _cfn(props, source, path, default_name=logical, shape="cloudformation-template")
    if "Policy" in data:
        return _cfn(data, source, "", default_name=default_name, shape="cloudformation-properties")
    if "policy" in data:
        outer = data["policy"]
        if isinstance(outer, dict) and isinstance(outer.get("policy"), dict):  # DescribeResiliencyPolicy
            return _api(outer, source, "policy", default_name=default_name, shape="describe")
        return _api(data, source, "", default_name=default_name, shape="api")
    raise DrConfigError(expected, source=source)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _api(doc: dict[str, Any], source: str, prefix: str, *, default_name: str, shape: str) -> ResiliencyPolicy:
    entries = _entries(doc.get("policy"), source, _join(prefix, "policy"), ("rtoInSecs", "rpoInSecs"), ("RtoInSecs", "RpoInSecs"))
    name = doc.get("policyName") or default_name
    return ResiliencyPolicy(str(name), source, entries, doc.get("tier"), shape)


def _cfn(props: dict[str, Any], source: str, prefix: str, *, default_name: str, shape: str) -> ResiliencyPolicy:
    entries = _entries(props.get("Policy"), source, _join(prefix, "Policy"), ("RtoInSecs", "RpoInSecs"), ("rtoInSecs", "rpoInSecs"))
    name = props.get("PolicyName")
    return ResiliencyPolicy(str(name) if isinstance(name, str) else default_name, source, entries, props.get("Tier"), shape)


def _entries(
    policy: Any, source: str, path: str, keys: tuple[str, str], other_spelling: tuple[str, str]
) -> dict[str, PolicyEntry]:
    if not isinstance(policy, dict) or not policy:
        raise DrConfigError(
            f"expected a mapping of disruption types ({', '.join(DISRUPTION_TYPES)}) to {{{keys[0]}, {keys[1]}}}",
            source=source, field=path,
        )
    entries: dict[str, PolicyEntry] = {}
    for disruption, failure in policy.items():
        where = f"{path}.{disruption}"
        if disruption not in DISRUPTION_TYPES:
            raise DrConfigError(
                f"unknown disruption type {disruption!r}; expected one of: {', '.join(DISRUPTION_TYPES)}",
                source=source, field=where,
            )
        if not isinstance(failure, dict):
            raise DrConfigError(f"expected {{{keys[0]}, {keys[1]}}}, got {failure!r}", source=source, field=where)
        unknown = sorted(set(failure) - set(keys))
        if unknown:
            hint = ""
            if set(unknown) & set(other_spelling):
                hint = f" (this shape spells them {keys[0]} and {keys[1]})"
            raise DrConfigError(
                f"unknown key(s) {', '.join(map(str, unknown))}; expected {keys[0]} and {keys[1]}{hint}",
                source=source, field=where,
            )
        rto, rpo = (_seconds(failure.get(key), source, f"{where}.{key}") for key in keys)
        entries[disruption] = PolicyEntry(disruption, rto, rpo)
    return entries


def _seconds(value: Any, source: str, path: str) -> float:
    if value is None:
        raise DrConfigError("is required (a whole number of seconds >= 0)", source=source, field=path)
    if isinstance(value, dict):
        raise DrConfigError(
            f"intrinsic functions ({', '.join(value)}) are not resolved here; write the number of seconds",
            source=source, field=path,
        )
    if isinstance(value, str) and value.strip().isdigit():
        return float(int(value.strip()))
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DrConfigError(f"expected a whole number of seconds >= 0, got {value!r}", source=source, field=path)
    return float(value)
