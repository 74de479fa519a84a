"""AWS wire protocols at the gateway: requests in, responses out, with moto's botocore-model code.

A request is routed to its service (the SigV4 credential scope's signing name, disambiguated by
the protocol's own cue: ``X-Amz-Target`` prefix, query ``Version``, or the REST router) and to its
operation by :func:`moto.core.routing.get_service_router`; its parameters are read by
``moto.core.parse.PROTOCOL_PARSERS``; results and errors are written by
``moto.core.serialize.get_serializer_class``. Nothing here speaks a protocol by hand.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import botocore.loaders
import botocore.response
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.request import Request, determine_request_protocol
from moto.core.routing import get_service_router
from moto.core.serialize import get_serializer_class
from moto.core.utils import get_service_model
from werkzeug.exceptions import HTTPException


class WireError(Exception):
    """The request names no service or operation the gateway can route (answered as HTTP 400/404)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class WireRequest:
    """One routed, parsed AWS request."""

    service: str  # botocore's service name, e.g. "elbv2"
    operation: Any  # moto.core.model.OperationModel
    protocol: str
    region: str
    params: dict[str, Any]

    @property
    def operation_name(self) -> str:
        return str(self.operation.name)


class ModeledError(Exception):
    """An AWS error as the serializers expect it: ``code``, ``message`` (and the HTTP status)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


#: Signing names shared by several services, or not equal to the service's name; the owner first.
_SIGNING_NAMES: dict[str, tuple[str, ...]] = {
    "elasticloadbalancing": ("elbv2", "elb"),
    "monitoring": ("cloudwatch",),
    "rds": ("rds", "docdb", "neptune"),
    "dynamodb": ("dynamodb", "dynamodbstreams"),
    "email": ("ses", "sesv2"),
    "states": ("stepfunctions",),
    "execute-api": ("apigateway",),
    "s3": ("s3",),
}


@functools.cache
def _available() -> frozenset[str]:
    return frozenset(botocore.loaders.create_loader().list_available_services("service-2"))


@functools.cache
def _signing_index() -> dict[str, tuple[str, ...]]:
    """Signing name -> botocore service names signing with it, read from every model (slow: only
    for signing names that are neither a service name nor in :data:`_SIGNING_NAMES`)."""
    loader = botocore.loaders.create_loader()
    index: dict[str, list[str]] = {}
    for name in loader.list_available_services("service-2"):
        try:
            metadata = loader.load_service_model(name, "service-2")["metadata"]
        except Exception:  # noqa: BLE001, S112 - a model botocore ships but cannot load: not routable
            continue
        signing = str(metadata.get("signingName") or metadata.get("endpointPrefix") or name).lower()
        index.setdefault(signing, []).append(name)
    # the service that shares its signing name with others and owns it comes first
    for signing, names in index.items():
        names.sort(key=lambda n: (n != signing, n))
    return {k: tuple(v) for k, v in index.items()}


def credential_scope(request: Request) -> tuple[str, str] | None:
    """``(region, signing name)`` from a SigV4 ``Authorization`` header, or None."""
    auth = request.headers.get("Authorization", "")
    for part in auth.replace(",", " ").split():
        if part.startswith("Credential="):
            pieces = part[len("Credential="):].split("/")
            if len(pieces) == 5:
                return pieces[2], pieces[3].lower()
    return None


def _candidates(signing: str) -> tuple[str, ...]:
    if signing in _SIGNING_NAMES:
        return _SIGNING_NAMES[signing]
    if signing in _available():
        return (signing,)
    names = _signing_index().get(signing)
    if not names:
        raise WireError("UnrecognizedClientException", f"no AWS service signs requests as {signing!r}")
    return names


def _choose_service(request: Request, names: tuple[str, ...]) -> str:
    if len(names) == 1:
        return names[0]
    target = request.headers.get("X-Amz-Target", "")
    version = request.values.get("Version", "")
    for name in names:
        metadata = get_service_model(name).metadata
        prefix = metadata.get("targetPrefix")
        if target and prefix and target.split(".", 1)[0] == prefix:
            return name
        if version and metadata.get("apiVersion") == version:
            return name
    return names[0]


def read_request(request: Request, default_region: str) -> WireRequest:
    """Route and parse ``request``; :class:`WireError` when it names nothing routable."""
    scope = credential_scope(request)
    if scope is None:
        raise WireError("MissingAuthenticationToken", "the request is not signed with AWS Signature Version 4", 403)
    region, signing = scope
    service = _choose_service(request, _candidates(signing))
    model = get_service_model(service)
    try:
        operation, url_params = get_service_router(service).match(request)
    except (HTTPException, NotImplementedError):
        raise WireError("UnknownOperationException", f"{service}: no operation matches {request.method} {request.path}") from None
    protocol = determine_request_protocol(model, request)  # moto 5.2.6: its headers too (smithy-protocol)
    parser = PROTOCOL_PARSERS[protocol](operation)
    params = parser.parse({
        "method": request.method,
        "values": request.values,
        "headers": request.headers,
        "body": request.get_data(),
        "url_path": request.path,
        "url_params": url_params,
    })
    return WireRequest(service, operation, protocol, region or default_region, dict(params))


def _readable(result: Any, shape: Any) -> Any:
    """Read streaming payloads (``StreamingBody``) into bytes so the serializer can write them."""
    if shape is None or not isinstance(result, dict):
        return result
    payload = shape.serialization.get("payload")
    if payload and isinstance(result.get(payload), botocore.response.StreamingBody):
        result = dict(result)
        result[payload] = result[payload].read()
    return result


def write_result(wire: WireRequest, result: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Serialize a successful result (a boto3 response dict) in the request's protocol."""
    result = {k: v for k, v in result.items() if k != "ResponseMetadata"}
    result = _readable(result, wire.operation.output_shape)
    serializer = get_serializer_class(wire.service, wire.protocol)(wire.operation)
    out = serializer.serialize(result)
    return int(out["status_code"]), dict(out["headers"]), _bytes(out["body"])


def write_error(wire: WireRequest, code: str, message: str, status: int) -> tuple[int, dict[str, str], bytes]:
    """Serialize an AWS error (code, message, HTTP status) in the request's protocol."""
    serializer = get_serializer_class(wire.service, wire.protocol)(wire.operation)
    with warnings.catch_warnings():  # codes the emulation answers that a model lists nowhere (moto warns)
        warnings.simplefilter("ignore", UserWarning)
        out = serializer.serialize(ModeledError(code, message, status))
    return status, dict(out["headers"]), _bytes(out["body"])


def _bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    return str(body or "").encode("utf-8")
