"""Fault protocol: validate, inject, revert.

A fault is validated twice: against the *plan* (``validate``: its arguments and the blueprint's
logical names, before anything is built — scenario files) and against *what exists* (``check``:
describe/list calls through the run's clients, just before it is injected). It names what it acts
on: a region, an AZ, a table, a bucket, an RDS instance or Aurora cluster — a logical resource of
the built topology or any physical one in the emulated world (the team's own, made with
``dr.client``).
"""
from __future__ import annotations

import inspect
import weakref
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pytest_drtest.errors import DrConfigError

if TYPE_CHECKING:
    from pytest_drtest.backends.base import ClientFactory
    from pytest_drtest.emulation.core import World
    from pytest_drtest.topology.blueprint import Blueprint
    from pytest_drtest.topology.model import Topology


@dataclass
class FaultContext:
    """What a fault acts on: the run's clients and regions, the world, and the topology once built.

    ``FaultContext(topology, world)`` takes the clients, regions and blueprint from the topology.
    """

    topology: Topology | None
    world: World | None  # None on the aws backend
    clients: ClientFactory | None = None
    regions: tuple[str, str] | None = None  # (primary, dr) of the run
    blueprint: Blueprint | None = None

    def __post_init__(self) -> None:
        if self.topology is not None:
            self.clients = self.clients or self.topology.clients
            self.regions = self.regions or (self.topology.primary_region, self.topology.dr_region)
            self.blueprint = self.blueprint or self.topology.blueprint
        if self.clients is None or self.regions is None:
            raise ValueError("FaultContext needs a topology, or clients and regions")

    def client(self, service: str, region: str) -> Any:
        assert self.clients is not None
        return self.clients.client(service, region)

    def role(self, which: str) -> str | None:
        """``primary``/``dr`` -> the run's region of that role; None for anything else."""
        assert self.regions is not None
        return {"primary": self.regions[0], "dr": self.regions[1]}.get(which)

    def region_up(self, region: str) -> bool:
        return self.world is None or self.world.region_up(region)

    def require_world(self, fault: Fault) -> World:
        if self.world is None:
            raise DrConfigError(
                f"fault {fault.kind!r} needs an emulated backend (moto, moto-server, localstack); on real AWS "
                "inject it with AWS FIS or your own tooling and measure with the probes"
            )
        return self.world

    def require_topology(self, fault: Fault, what: str) -> Topology:
        """The built topology, or a :class:`DrConfigError`: ``what`` names a logical resource of it."""
        if self.topology is None:
            raise self.no_topology(fault, what)
        return self.topology

    @staticmethod
    def no_topology(fault: Fault, what: str) -> DrConfigError:
        return DrConfigError(
            f"{fault.describe()}: {what} is a resource of the shipped topology, which is not built: "
            "use dr.topology (or dr.probe()) first, or name a physical resource (yours, made with dr.client)"
        )


@dataclass
class Fault:
    """Base class: subclasses set ``kind`` and implement ``validate``, ``check``, ``inject`` and ``revert``.

    ``with dr.inject(fault):`` reverts the fault at the end of the block (``dr.revert(fault)``).
    """

    kind: ClassVar[str] = ""
    data_fault: ClassVar[bool] = False
    injected_at: float | None = field(default=None, init=False, compare=False)
    reverted_at: float | None = field(default=None, init=False, compare=False)
    record: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)
    # the harness that injected it (a weak reference: copies of a fault share it but were never injected)
    _owner: Any = field(default=None, init=False, compare=False, repr=False)

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> Fault:
        """The fault of a scenario table's arguments (the class's keyword arguments)."""
        names = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(args) - names)
        if unknown:
            raise DrConfigError(f"unknown argument(s) {', '.join(unknown)} for {cls.kind!r}; expected: {', '.join(sorted(names))}")
        for name, param in inspect.signature(cls).parameters.items():
            if param.default is inspect.Parameter.empty and name not in args:
                raise DrConfigError(f"{cls.kind!r} needs {name!r}")
        return cls(**args)

    def validate(self, topology: Topology) -> None:
        """Raise :class:`DrConfigError` if the arguments, or the logical names, do not fit the planned topology."""

    def check(self, ctx: FaultContext) -> None:
        """Raise :class:`DrConfigError` if the target does not exist (describe/list calls on ``ctx``'s clients)."""

    def inject(self, ctx: FaultContext) -> None:
        raise NotImplementedError

    def revert(self, ctx: FaultContext) -> None:
        """Undo the fault. Data faults (corruption, deletion) leave their damage: the runbook's
        restore is the recovery; the topology is torn down after the test anyway."""

    def describe(self) -> str:
        return self.kind

    # -- with dr.inject(fault): ... --------------------------------------------------------------
    def bind(self, harness: Any) -> None:
        """Called by the harness that injects the fault (``with`` reverts through it)."""
        self._owner = weakref.ref(harness)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        harness = self._owner() if self._owner is not None else None
        if harness is None:
            raise DrConfigError(f"{self.describe()} was not injected with dr.inject(...): there is nothing to revert")
        if self.reverted_at is None:
            harness.revert(self)


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
        return cls.from_args(args)
    except DrConfigError as exc:
        raise DrConfigError(str(exc), source=source, field=field_name) from None
    except TypeError as exc:
        raise DrConfigError(f"bad arguments for {kind!r}: {exc}", source=source, field=field_name) from None
