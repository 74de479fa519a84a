"""The emulation hub: one set of botocore handlers dispatching to per-service emulators.

How a call flows (docs/emulation.md, "How the emulation hooks into botocore"):

1. ``before-parameter-build`` (every operation): ``<Service>Emulator.translate_<Operation>(params,
   region)`` may rewrite names the emulation shows into the backend's; then the API parameters are
   stashed in the request context.
2. ``before-call`` (registered first): a call to a lost region raises
   ``EndpointConnectionError``; then ``<Service>Emulator.before_<Operation>(call)`` may answer
   the call itself (return a dict, the parsed response) or raise :class:`AwsError`.
3. moto (or the server) answers.
4. ``after-call``: on success, ``after_<Operation>(call)`` may change ``call.parsed`` in place
   (e.g. report ``CREATING`` until a modeled restore ends) and schedule work on the clock.

Emulators reach the emulator behind the scenes through :attr:`Emulation.backdoor`: clients
without these handlers, so their calls are neither intercepted nor affected by faults.
"""
from __future__ import annotations

import copy
import io
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import botocore.exceptions
from botocore.awsrequest import AWSResponse

from pytest_drtest.clock import Clock, Scheduled
from pytest_drtest.profile import LatencyProfile

if TYPE_CHECKING:
    import boto3

    from pytest_drtest.backends.base import ClientFactory

T = TypeVar("T")

#: Services whose endpoint is global: a regional outage does not cut them off.
GLOBAL_SERVICES = frozenset({"route53", "iam", "sts", "cloudfront", "organizations"})


class AwsError(Exception):
    """Raised by an emulator's ``before_`` hook: answered to the caller as an AWS error."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Call:
    """One API call as an emulator sees it."""

    service: str
    operation: str
    region: str
    params: dict[str, Any]
    context: dict[str, Any]
    parsed: dict[str, Any] | None = None
    internal: bool = False


@dataclass
class World:
    """What is broken right now: lost regions and AZs, paused replication."""

    lost_regions: set[str] = field(default_factory=set)
    lost_azs: set[str] = field(default_factory=set)
    paused: set[tuple[str, str]] = field(default_factory=set)
    listeners: list[Callable[[str, str], None]] = field(default_factory=list)

    def region_up(self, region: str) -> bool:
        return region not in self.lost_regions

    def az_up(self, az: str) -> bool:
        return az not in self.lost_azs and self.region_up(az_region(az))

    def is_paused(self, service: str, resource: str) -> bool:
        return (service, resource) in self.paused or (service, "*") in self.paused

    def _emit(self, what: str, name: str) -> None:
        for listener in list(self.listeners):
            listener(what, name)

    def lose_region(self, region: str) -> None:
        self.lost_regions.add(region)
        self._emit("region-lost", region)

    def restore_region(self, region: str) -> None:
        self.lost_regions.discard(region)
        self._emit("region-restored", region)

    def lose_az(self, az: str) -> None:
        self.lost_azs.add(az)
        self._emit("az-lost", az)

    def restore_az(self, az: str) -> None:
        self.lost_azs.discard(az)
        self._emit("az-restored", az)

    def pause(self, service: str, resource: str) -> None:
        self.paused.add((service, resource))
        self._emit("replication-paused", f"{service}:{resource}")

    def resume(self, service: str, resource: str) -> None:
        self.paused.discard((service, resource))
        self._emit("replication-resumed", f"{service}:{resource}")


def az_region(az: str) -> str:
    """``us-east-1a`` -> ``us-east-1``."""
    return az.rstrip("abcdefghijklmnopqrstuvwxyz") if az and az[-1].isalpha() else az


@dataclass
class Endpoint:
    """Something a health check or a DNS answer can point at (an ALB, an app endpoint)."""

    host: str
    region: str
    healthy: Callable[[], bool]
    kind: str = "custom"
    address: str | None = None  # its loopback address, when something listens there (DNS answers it)

    def is_healthy(self, world: World) -> bool:
        return world.region_up(self.region) and bool(self.healthy())


class ServiceEmulator:
    """Base class of a per-service emulator.

    Subclasses set :attr:`service` (botocore's service name, e.g. ``"dynamodb"``) and define
    ``before_<Operation>(call) -> dict | None`` and ``after_<Operation>(call) -> None`` methods.
    Work they schedule with :meth:`at`, :meth:`later` or :meth:`every` is cancelled by
    :meth:`close`; a subclass that overrides ``close`` calls ``super().close()``.
    """

    service: str = ""

    def __init__(self, emulation: Emulation) -> None:
        self.emulation = emulation
        self._pending_timers: dict[int, Scheduled] = {}  # pending handles by id(), until they run or close()

    @property
    def clock(self) -> Clock:
        return self.emulation.clock

    @property
    def profile(self) -> LatencyProfile:
        return self.emulation.profile

    @property
    def world(self) -> World:
        return self.emulation.world

    def backdoor(self, region: str, service: str | None = None) -> Any:
        """A client of this (or another) service that bypasses the handlers."""
        return self.emulation.backdoor.client(service or self.service, region)

    def moto_backend(self, region: str, service: str | None = None) -> Any:
        """moto's own model of this (or another) service in ``region`` when moto answers it in this
        process, else ``None`` (then the backdoor client is the way in). Writes the emulator makes
        in bulk (replication deliveries) go there directly: the same models a request would reach,
        without serializing and parsing one."""
        return self.emulation.moto_backend(service or self.service, region)

    # -- timers -----------------------------------------------------------------------------
    def at(self, t: float, fn: Callable[[], Any], *, name: str = "") -> Scheduled:
        """Run ``fn`` when the clock reaches ``t``; ``cancel()`` the handle to drop it."""
        handle = self.clock.call_at(t, lambda: self._fire(handle, fn), name=name)
        return self._keep(handle)

    def later(self, delay: float, fn: Callable[[], Any], *, name: str = "") -> Scheduled:
        """Run ``fn`` ``delay`` seconds from now (``delay`` >= 0)."""
        handle = self.clock.call_later(delay, lambda: self._fire(handle, fn), name=name)
        return self._keep(handle)

    def every(self, interval: float, fn: Callable[[], Any], *, name: str = "") -> Scheduled:
        """Run ``fn`` every ``interval`` seconds, first one interval from now, until cancelled."""
        return self._keep(self.clock.every(interval, fn, name=name))

    def _keep(self, handle: Scheduled) -> Scheduled:
        if len(self._pending_timers) > 256:  # handles cancelled by their owners never run: forget them
            self._pending_timers = {key: h for key, h in self._pending_timers.items() if not h.cancelled}
        self._pending_timers[id(handle)] = handle
        return handle

    def _fire(self, handle: Scheduled, fn: Callable[[], Any]) -> None:
        self._pending_timers.pop(id(handle), None)
        fn()

    def on_world_change(self, what: str, name: str) -> None:
        """Called when a fault changes the world (``region-lost``, ``az-lost``, ...)."""

    def close(self) -> None:
        """Cancel every pending timer; called at teardown."""
        for handle in list(self._pending_timers.values()):
            handle.cancel()
        self._pending_timers.clear()


class Emulation:
    """Adds managed-service behaviour to an emulator, on the run's clock."""

    def __init__(self, clock: Clock, profile: LatencyProfile, backdoor: ClientFactory) -> None:
        self.clock = clock
        self.profile = profile
        self.backdoor = backdoor
        self.world = World()
        self.world.listeners.append(self._world_changed)
        self.services: dict[str, ServiceEmulator] = {}  # the first emulator of each service
        self._emulators: dict[str, list[ServiceEmulator]] = {}  # every emulator, in the order added
        self._found: dict[type, Any] = {}  # find()'s answers (emulators look each other up on every tick)
        self._dataplane: Any = None
        self.endpoints: dict[str, Endpoint] = {}
        self.endpoint_listeners: list[Callable[[Endpoint], None]] = []  # told of each new endpoint
        self.addresses: Any = None  # the run's AddressPlan (pytest_drtest.gateway.addresses): endpoint addresses
        self._installed: list[tuple[Any, str, Callable[..., Any]]] = []
        self.calls = 0
        self.lock = clock.lock  # the world lock: every call into the world takes it
        self._locked_class = _locked_client_mixin(self.lock)
        self._installed_lock: list[Any] = []
        self.install_lock(backdoor.session.events)
        self._moto_account: str | None = None

    def moto_backend(self, service: str, region: str) -> Any:
        """moto's backend object of ``service`` (a botocore name) in ``region`` for the backdoor's
        account, when in-process moto answers that service; ``None`` otherwise."""
        if not self.backdoor.in_process(service):
            return None
        from moto.backends import get_backend

        if self._moto_account is None:
            self._moto_account = str(self.backdoor.client("sts", region).get_caller_identity()["Account"])
        return get_backend(service)[self._moto_account][region]  # type: ignore[call-overload]

    # -- composition ------------------------------------------------------------------------
    def add(self, emulator: ServiceEmulator, *, first: bool = False) -> ServiceEmulator:
        """Add an emulator; several may serve one service (e.g. RDS instances and Aurora clusters):
        the first whose ``before_`` hook answers wins, and every ``after_`` hook runs. ``first``
        puts it before the service's others (a gate that must see every call, e.g. a paused
        Aurora Serverless v2 cluster refusing Data API calls before the Data API emulator runs them)."""
        self.services.setdefault(emulator.service, emulator)
        self._found.clear()
        emulators = self._emulators.setdefault(emulator.service, [])
        if first:
            emulators.insert(0, emulator)
        else:
            emulators.append(emulator)
        return emulator

    def get(self, service: str) -> Any:
        return self.services[service]

    def find(self, kind: type[T]) -> T:
        """The emulator of class ``kind`` (KeyError if none was added)."""
        found = self._found.get(kind)
        if found is None:
            found = next((e for emulators in self._emulators.values() for e in emulators if isinstance(e, kind)), None)
            if found is None:
                raise KeyError(kind.__name__)
            self._found[kind] = found
        return found

    @property
    def dataplane(self) -> Any:
        """The run's real PostgreSQL servers (:class:`~pytest_drtest.dataplane.DataPlane`), started
        on first use; raises ``DataPlaneUnavailable`` with what to install when PostgreSQL cannot run."""
        if self._dataplane is None:
            from pytest_drtest.dataplane import DataPlane

            self._dataplane = DataPlane(self.clock)
        return self._dataplane

    def register_endpoint(self, endpoint: Endpoint) -> None:
        """Make ``endpoint.host`` known to health checks and DNS answers (case-insensitive)."""
        self.endpoints[endpoint.host.lower().rstrip(".")] = endpoint
        for listener in list(self.endpoint_listeners):
            listener(endpoint)

    def forget_endpoint(self, host: str) -> None:
        """``host`` is gone (a deleted instance or load balancer): DNS and health checks no longer find it."""
        self.endpoints.pop(host.lower().rstrip("."), None)

    def endpoint_healthy(self, host: str) -> bool:
        """Health of a host (a name, or an endpoint's address) as the emulation sees it; unknown
        hosts do not answer (unhealthy)."""
        wanted = host.lower().rstrip(".")
        endpoint = self.endpoints.get(wanted) or next((e for e in self.endpoints.values() if e.address == wanted), None)
        return endpoint is not None and endpoint.is_healthy(self.world)

    def _all(self) -> list[ServiceEmulator]:
        return [e for emulators in self._emulators.values() for e in emulators]

    def _world_changed(self, what: str, name: str) -> None:
        for emulator in self._all():
            emulator.on_world_change(what, name)

    # -- botocore wiring --------------------------------------------------------------------
    def install_lock(self, events: Any) -> None:
        """Clients a session creates from now on make each API call under the world lock
        (calls reach the world from the test's thread and the gateway's at once)."""

        def add_mixin(base_classes: list[type], **_: Any) -> None:
            if self._locked_class not in base_classes:
                base_classes.insert(0, self._locked_class)

        unique_id = f"drtest-lock-{id(self)}"
        events.register("creating-client-class", add_mixin, unique_id=unique_id)
        self._installed_lock.append(events)

    def install(self, events: Any) -> None:
        """Register the handlers on a session's (or client's) event system."""
        self.install_lock(events)
        handlers: list[tuple[str, Callable[..., Any], bool]] = [
            ("before-parameter-build", self._stash_params, False),
            ("before-call", self._before_call, True),
            ("after-call", self._after_call, False),
        ]
        for event, handler, first in handlers:
            if first:
                events.register_first(event, handler, unique_id=f"drtest-{event}-{id(self)}")
            else:
                events.register(event, handler, unique_id=f"drtest-{event}-{id(self)}")
            self._installed.append((events, event, handler))

    def install_session(self, session: boto3.Session) -> None:
        self.install(session.events)

    def uninstall(self) -> None:
        for events, event, _handler in self._installed:
            events.unregister(event, unique_id=f"drtest-{event}-{id(self)}")
        self._installed.clear()
        for events in self._installed_lock:
            events.unregister("creating-client-class", unique_id=f"drtest-lock-{id(self)}")
        self._installed_lock.clear()

    def close(self) -> None:
        self.uninstall()
        try:
            for emulator in self._all():
                emulator.close()
        finally:
            if self._dataplane is not None:
                self._dataplane.close()
                self._dataplane = None

    def _stash_params(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        # ``translate_<Operation>(params, region)`` may rewrite, in place and before botocore
        # serializes them, names only the emulation shows (e.g. an automated snapshot's clock-dated
        # identifier) into the backend's.
        region = context.get("client_region") or "us-east-1"
        for emulator in self._emulators.get(model.service_model.service_name, ()):
            translate = getattr(emulator, f"translate_{model.name}", None)
            if translate is not None:
                translate(params, region)
        context["dr_params"] = copy.copy(params)

    def _call(self, model: Any, context: dict[str, Any]) -> Call:
        call = context.get("dr_call")
        if call is None:
            call = Call(
                service=model.service_model.service_name,
                operation=model.name,
                region=context.get("client_region") or "us-east-1",
                params=context.get("dr_params", {}),
                context=context,
            )
            context["dr_call"] = call
        return call

    def _before_call(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
        call = self._call(model, context)
        try:
            parsed = self.begin(call)
        except AwsError as exc:
            context["dr_answered"] = True
            return error_response(exc.code, exc.message, exc.status)
        if parsed is not None:
            context["dr_answered"] = True
            return ok_response(parsed)
        return None

    def _after_call(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if context.get("dr_answered") or http_response is None or http_response.status_code >= 300:
            return
        call = self._call(model, context)
        call.parsed = parsed
        self.finish(call)

    # -- the two halves of a call, for every path into the world ----------------------------------
    def begin(self, call: Call) -> dict[str, Any] | None:
        """Before the backend answers: a lost region's endpoint is unreachable
        (``EndpointConnectionError``); then the first ``before_`` hook that answers wins (a parsed
        response, or :class:`AwsError`). None: the backend answers."""
        self.calls += 1
        if call.service not in GLOBAL_SERVICES and not self.world.region_up(call.region):
            raise botocore.exceptions.EndpointConnectionError(
                endpoint_url=f"https://{call.service}.{call.region}.amazonaws.com"
            )
        for emulator in self._emulators.get(call.service, ()):
            hook = getattr(emulator, f"before_{call.operation}", None)
            if hook is None:
                continue
            parsed: dict[str, Any] | None = hook(call)
            if parsed is not None:
                return parsed
        return None

    def finish(self, call: Call) -> None:
        """After the backend answered with success (``call.parsed``): every ``after_`` hook, in order."""
        for emulator in self._emulators.get(call.service, ()):
            hook = getattr(emulator, f"after_{call.operation}", None)
            if hook is not None:
                hook(call)

    def hooks(self, service: str, operation: str, kind: str) -> bool:
        """Whether an emulator of ``service`` has a ``<kind>_<operation>`` hook (``translate``,
        ``before`` or ``after``)."""
        return any(hasattr(e, f"{kind}_{operation}") for e in self._emulators.get(service, ()))


def _locked_client_mixin(lock: Any) -> type:
    """A base class for botocore clients that makes every API call under ``lock``."""

    class WorldLockedClient:
        def _make_api_call(self, operation_name: str, api_params: dict[str, Any]) -> Any:
            with lock:
                return super()._make_api_call(operation_name, api_params)  # type: ignore[misc]

    return WorldLockedClient


def ok_response(parsed: dict[str, Any], status: int = 200) -> tuple[AWSResponse, dict[str, Any]]:
    """A parsed response answered by an emulator instead of the backend."""
    body = dict(parsed)
    body.setdefault(
        "ResponseMetadata",
        {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
    )
    return AWSResponse("https://drtest.emulation", status, {}, _Raw()), body


def error_response(code: str, message: str, status: int = 400) -> tuple[AWSResponse, dict[str, Any]]:
    """A parsed error: botocore raises the service's modeled exception for ``code``."""
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
    }
    return AWSResponse("https://drtest.emulation", status, {}, _Raw()), parsed


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterable[bytes]:
        yield b""
