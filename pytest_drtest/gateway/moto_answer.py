"""moto's answer to a gateway request, as moto answers a botocore client in this process.

A request that reached a gateway is already routed and parsed (:mod:`pytest_drtest.gateway.wire`);
making it again as a boto3 call would validate, serialize, sign and rebuild it once more before
moto reads it. This hands the request itself, at the service's AWS URL, to the moto handler that
``mock_aws`` would give the same call made in process — found as moto's ``BotocoreStubber`` finds
it, through ``moto.backend_index`` and the backend's ``urls`` — and reads the answer with
botocore's response parser only when an emulator's ``after_`` hook needs the parsed result.
"""
from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser
from moto import backend_index
from moto.core.request import Request
from werkzeug.exceptions import HTTPException

from pytest_drtest.gateway.wire import WireRequest

#: Response headers the gateway writes itself.
_OWN_HEADERS = frozenset({"status", "content-length", "transfer-encoding", "connection"})


def aws_url(endpoint_url: str, request: Request) -> str:
    """The URL the request would have had at ``endpoint_url`` (path and query as they arrived)."""
    raw = str(request.environ.get("RAW_URI") or "") or request.full_path
    if raw.startswith(("http://", "https://")):  # some servers put the absolute URL in RAW_URI
        raw = "/" + raw.split("://", 1)[1].partition("/")[2]
    raw = raw.removesuffix("?")
    return endpoint_url.rstrip("/") + (raw if raw.startswith("/") else f"/{raw}")


def answer(request: Request, url: str) -> tuple[int, dict[str, str], bytes]:
    """moto's ``(status, headers, body)`` for ``request`` made at ``url``."""
    parts = urlsplit(url)
    handler = _handler(f"{parts.scheme}://{parts.netloc}{parts.path}")
    if handler is None:
        return 404, {"Content-Type": "text/plain"}, f"no emulator answers {url}".encode()
    body = request.get_data()
    environ = dict(request.environ)  # the same request, as it would have reached the AWS host
    environ.update({
        "wsgi.url_scheme": parts.scheme, "HTTP_HOST": parts.netloc, "SERVER_NAME": parts.hostname or "",
        "SERVER_PORT": str(parts.port or 443), "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
        "RAW_URI": url[len(f"{parts.scheme}://{parts.netloc}"):] or "/",
    })
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    at_aws = Request(environ)
    try:
        status, raw_headers, content = handler(at_aws, at_aws.raw_url, at_aws.headers)
    except HTTPException as exc:
        status, raw_headers, content = exc.code, exc.get_headers(), exc.get_body()
    out = {str(k): str(v) for k, v in dict(raw_headers or {}).items() if str(k).lower() not in _OWN_HEADERS}
    return int(status), out, content if isinstance(content, bytes) else str(content or "").encode("utf-8")


@functools.lru_cache(maxsize=4096)
def _handler(clean_url: str) -> Callable[..., Any] | None:
    """The moto method answering ``clean_url`` (no query), as ``BotocoreStubber`` picks it: the
    first service whose URL pattern matches, then the first of that backend's ``urls``."""
    from moto import backends
    from moto.core.base_backend import BackendDict
    from moto.core.models import DEFAULT_ACCOUNT_ID

    for service, pattern in backend_index.backend_url_patterns:
        if not pattern.match(clean_url):
            continue
        backend_dict: Any = backends.get_backend(service)  # type: ignore[call-overload]
        if isinstance(backend_dict, BackendDict):
            regions = backend_dict[DEFAULT_ACCOUNT_ID]
            backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
        else:
            backend = backend_dict["global"]
        for url, method in backend.urls.items():
            if re.compile(url).match(clean_url):
                return method  # type: ignore[no-any-return]
        return None
    return None


def parse(wire: WireRequest, status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """moto's successful answer as botocore's client would have parsed it."""
    response = {"status_code": status, "headers": HeadersDict(headers), "body": body}
    parsed: dict[str, Any] = create_parser(wire.protocol).parse(response, wire.operation.output_shape)
    return parsed
