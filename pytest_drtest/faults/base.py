"""Fault protocol: validate against the topology before anything happens, inject, revert."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pytest_drtest.errors import DrConfigError

if TYPE_CHECKING:
    from pytest_drtest.emulation.core import World
    from pytest_drtest.topology.model import Topology


@dataclass
class FaultContext:
    """What a fault acts on."""

    topology: Topology
    world: World | None  # None on the aws backend

    def require_world(self, fault: Fault) -> World:
        if self.world is None:
            raise DrConfigError(
                f"fault {fault.kind!r} needs an emulated backend (moto, moto-server, localstack); on real AWS "
                "inject it with AWS FIS or your own tooling and measure with the probes"
            )
        return self.world


@dataclass
class Fault:
    """Base class: subclasses set ``kind`` and implement ``validate``, ``inject`` and ``revert``."""

    kind: ClassVar[str] = ""
    data_fault: ClassVar[bool] = False
    injected_at: float | None = field(default=None, init=False, compare=False)
    record: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    def validate(self, topology: Topology) -> None:
        """Raise :class:`DrConfigError` if the fault's target does not exist."""

    def inject(self, ctx: FaultContext) -> None:
        raise NotImplementedError

    def revert(self, ctx: FaultContext) -> None:
        """Undo the fault. Data faults (corruption, deletion) leave their damage: the runbook's
        restore is the recovery; the topology is torn down after the test anyway."""

    def describe(self) -> str:
        return self.kind


FAULT_KINDS: dict[str, type[Fault]] = {}


def register(cls: type[Fault]) -> type[Fault]:
    FAULT_KINDS[cls.kind] = cls
    return cls


def fault_from_spec(spec: Any, *, source: str, field_name: str = "fault") -> Fault:
    """Build a fault from a scenario table such as ``{kind = "region-outage", region = "primary"}``."""
    if not isinstance(spec, dict):
        raise DrConfigError("expected a table like { kind = \"region-outage\" }", source=source, field=field_name)
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise DrConfigError(
            f"unknown fault kind {kind!r}; expected one of: {', '.join(sorted(FAULT_KINDS))}",
            source=source, field=f"{field_name}.kind",
        )
    cls = FAULT_KINDS[kind]
    args = {k: v for k, v in spec.items() if k != "kind"}
    try:
        return cls.from_args(args)  # type: ignore[attr-defined]
    except DrConfigError as exc:
        raise DrConfigError(str(exc), source=source, field=field_name) from None
    except TypeError as exc:
        raise DrConfigError(f"bad arguments for {kind!r}: {exc}", source=source, field=field_name) from None
