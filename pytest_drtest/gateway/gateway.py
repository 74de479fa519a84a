"""The AWS endpoint of a region: requests from any process answered by the emulation hub.

A request is read with moto's parsers (:mod:`pytest_drtest.gateway.wire`) and meets the emulation
hub's two halves of a call, as an in-process call does (:meth:`Emulation.begin`: lost region,
``before_`` hooks; :meth:`Emulation.finish`: ``after_`` hooks), under the world lock, so it sees
the same emulators, errors, statuses, lag and clock. Between them moto answers the request itself
(:mod:`pytest_drtest.gateway.moto_answer`), as ``mock_aws`` answers an in-process call; only the
calls whose in-process path changes them on the way (an emulator's ``translate_`` hook; S3, whose
botocore customizations shape what its emulator sees) are made as the same boto3 call on the
run's hooked clients. Answers are written in the request's protocol with moto's serializers. A
request signed for another region than the gateway's is refused as AWS refuses it.
"""
from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import botocore.exceptions
from botocore import xform_name
from botocore.validate import validate_parameters
from moto.core.request import Request

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.gateway import moto_answer
from pytest_drtest.gateway.wire import (
    WireError,
    WireRequest,
    read_request,
    write_error,
    write_result,
)

if TYPE_CHECKING:
    from pytest_drtest.backends.base import ClientFactory
    from pytest_drtest.emulation.core import Emulation

log = logging.getLogger("pytest_drtest.gateway")

#: Services with one global endpoint: served by the global gateway and by every regional one.
GLOBAL_SERVICES = frozenset({"route53", "iam", "sts", "cloudfront", "organizations"})


class GatewayApp:
    """The WSGI app of one gateway (``region=None``: the global services' gateway)."""

    def __init__(self, clients: ClientFactory, region: str | None, *, on_error: Callable[[BaseException], None],
                 emulation: Emulation | None = None) -> None:
        self.clients = clients
        self.emulation = emulation
        self.region = region
        self.on_error = on_error
        self.requests = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        request.get_data()  # read once and kept: the form parser and moto both read it after
        request_id = str(uuid.uuid4())
        try:
            wire = read_request(request, self.region or "us-east-1")
        except WireError as exc:
            return self._plain(start_response, exc.status, exc.code, exc.message, request_id)
        self.requests += 1
        status, headers, body = self._answer(wire, request)
        headers.setdefault("x-amzn-RequestId", request_id)
        headers.setdefault("x-amz-request-id", request_id)
        if request.method == "HEAD":
            body = b""
        else:
            headers["Content-Length"] = str(len(body))
        start_response(f"{status} {_reason(status)}", [(k, str(v)) for k, v in headers.items()])
        return [body]

    def _answer(self, wire: WireRequest, request: Request) -> tuple[int, dict[str, str], bytes]:
        refusal = self._wrong_region(wire)
        if refusal is not None:
            return refusal
        try:
            if self._direct(wire):
                return self._answer_directly(wire, request)
            client = self.clients.client(wire.service, wire.region)
            result = getattr(client, xform_name(wire.operation_name))(**wire.params)
            return write_result(wire, result)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
            return write_error(wire, str(error.get("Code", "")), str(error.get("Message", "")), status)
        except botocore.exceptions.ParamValidationError as exc:
            return write_error(wire, "ValidationException", str(exc).replace("\n", " "), 400)
        except botocore.exceptions.EndpointConnectionError as exc:
            return write_error(wire, "ServiceUnavailable", str(exc), 503)
        except Exception as exc:
            log.exception("gateway %s: %s.%s failed", self.region or "global", wire.service, wire.operation_name)
            self.on_error(exc)
            return write_error(wire, "InternalFailure", f"{type(exc).__name__}: {exc}", 500)

    def _direct(self, wire: WireRequest) -> bool:
        """Whether moto answers ``wire`` itself between the hub's halves (see the module's doc)."""
        return (self.emulation is not None and wire.service != "s3"
                and self.clients.endpoint_for(wire.service) is None
                and not self.emulation.hooks(wire.service, wire.operation_name, "translate"))

    def _answer_directly(self, wire: WireRequest, request: Request) -> tuple[int, dict[str, str], bytes]:
        emulation = self.emulation
        assert emulation is not None
        if wire.operation.input_shape is not None:
            validate_parameters(wire.params, wire.operation.input_shape)  # as the boto3 call would
        endpoint = str(self.clients.client(wire.service, wire.region).meta.endpoint_url)
        call = Call(service=wire.service, operation=wire.operation_name, region=wire.region,
                    params=copy.copy(wire.params), context={})
        with emulation.lock:
            try:
                parsed = emulation.begin(call)
            except AwsError as exc:
                return write_error(wire, exc.code, exc.message, exc.status)
            if parsed is not None:
                return write_result(wire, parsed)
            status, headers, body = moto_answer.answer(request, moto_answer.aws_url(endpoint, request))
            if status >= 300 or not emulation.hooks(wire.service, wire.operation_name, "after"):
                return status, headers, body
            call.parsed = moto_answer.parse(wire, status, headers, body)
            emulation.finish(call)
            return write_result(wire, call.parsed)

    def _wrong_region(self, wire: WireRequest) -> tuple[int, dict[str, str], bytes] | None:
        if wire.service in GLOBAL_SERVICES or self.region is None or wire.region == self.region:
            if self.region is None and wire.service not in GLOBAL_SERVICES:
                return write_error(wire, "UnrecognizedClientException",
                                   f"{wire.service} is a regional service; use the gateway of {wire.region}", 400)
            return None
        if wire.service == "s3":
            return write_error(wire, "AuthorizationHeaderMalformed",
                               f"The authorization header is malformed; the region '{wire.region}' is wrong; "
                               f"expecting '{self.region}'", 400)
        return write_error(wire, "InvalidSignatureException",
                           f"Credential should be scoped to a valid region, not '{wire.region}'. ", 400)

    @staticmethod
    def _plain(start_response: Callable[..., Any], status: int, code: str, message: str, request_id: str) -> Iterable[bytes]:
        body = json.dumps({"__type": code, "message": message}).encode()
        start_response(f"{status} {_reason(status)}", [
            ("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id),
            ("X-Amzn-Errortype", code), ("Content-Length", str(len(body))),
        ])
        return [body]


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
