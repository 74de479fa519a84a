"""The CloudFront edge of the emulated world: viewer requests to a distribution's domain name.

The world's DNS answers every distribution's ``*.cloudfront.net`` name with the edge's address
(``127.S.250.2``, :mod:`pytest_drtest.gateway.addresses`). The edge picks the distribution by the
request's ``Host`` header and lets the CloudFront emulation route it
(:meth:`~pytest_drtest.emulation.cloudfront.routing.Routing.request`): the origin group's
primary first, the secondary when the primary cannot be connected to or answers a failover
status code (``GET``, ``HEAD``, ``OPTIONS`` only). An origin the emulation finds serving gets the
request for real: the edge hands it to the listener of that load balancer inside the world (as
CloudFront's own network reaches an origin; no loopback TCP hop), which answers it as it answers a
client on the network — its health, then the region's application (the built-in one, or the
team's service over HTTP). Its status decides the failover and its answer is the viewer's. On a paced clock the edge waits the modeled
connection attempts (``ConnectionAttempts`` × ``ConnectionTimeout``) in wall time.

Headers of every answer: ``X-Cache: Miss from cloudfront`` (the emulation has no cache) and
``Via``, as CloudFront adds them; and three of the emulation's, for probes and tests:
``X-Drtest-Origin-Region`` (the Region of the origin that answered), ``X-Drtest-Failed-Over``
(``true`` when the request was sent on to the secondary origin) and ``X-Drtest-Connect-Seconds`` (the modeled seconds spent
on connection attempts).
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.test import EnvironBuilder

if TYPE_CHECKING:
    from pytest_drtest.gateway.world import NetworkWorld

#: What CloudFront answers for a Host that names no distribution ("The request could not be satisfied")
NO_DISTRIBUTION = 403
HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"})


def _answer(start_response: Callable[..., Any], status: int, body: bytes, headers: list[tuple[str, str]]) -> Iterable[bytes]:
    reason = {200: "OK", 403: "Forbidden", 404: "Not Found", 502: "Bad Gateway", 504: "Gateway Timeout"}.get(status, "")
    start_response(f"{status} {reason}".rstrip(), [*headers, ("Content-Length", str(len(body)))])
    return [body]


class EdgeApp:
    """The WSGI app of the edge (see the module docstring)."""

    def __init__(self, network: NetworkWorld) -> None:
        self.network = network

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = str(environ.get("HTTP_HOST") or "").split(":")[0].lower().rstrip(".")
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", "/"))
        content_type = str(environ.get("CONTENT_TYPE") or "text/plain")
        cloudfront: Any = self.network.emulation.services.get("cloudfront")
        via = [("Via", f"1.1 {hashlib.sha1(host.encode()).hexdigest()[:32]}.cloudfront.net (CloudFront)"),
               ("X-Cache", "Miss from cloudfront")]
        answered: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}

        def serve(origin: str) -> int:
            endpoint = self.network.emulation.endpoints.get(origin)
            address = getattr(endpoint, "address", None)
            listener = self.network.listener_at(address) if address else None
            if listener is None:
                return 502 if not address else 504
            request = EnvironBuilder(path=raw, method=method, data=body, base_url=f"http://{origin}",
                                     headers=[("Content-Type", content_type)]).get_environ()
            with self.network.lock.released():
                answered[origin] = listener.handle(request)
            return answered[origin][0]

        with self.network.lock:
            try:
                if cloudfront is None:
                    raise KeyError(host)
                cloudfront.distribution(host)
            except KeyError:
                return _answer(start_response, NO_DISTRIBUTION, b"ERROR: The request could not be satisfied "
                               b"(no distribution for this host)", [("Content-Type", "text/plain"), *via])
            answer = cloudfront.request(host, environ.get("PATH_INFO", "/"), method, serve=serve)
            region = cloudfront.origin_region(answer.domain) if answer.attempts[-1].status is not None else None
        speed = getattr(self.network.emulation.clock, "speed", None)
        if answer.seconds and speed:  # a paced clock: the connection attempts take their time
            time.sleep(answer.seconds / float(speed))
        ours = [("X-Drtest-Origin-Region", region or ""), ("X-Drtest-Failed-Over", str(answer.failed_over).lower()),
                ("X-Drtest-Connect-Seconds", f"{answer.seconds:g}")]
        got = answered.get(answer.domain.lower().rstrip("."))
        if got is None or got[0] != answer.status:  # the edge's own error, or the model's origin status
            return _answer(start_response, answer.status, f"CloudFront: HTTP {answer.status} from origin {answer.origin_id}".encode(),
                           [("Content-Type", "text/plain"), *via, *ours])
        status, headers, content = got
        passed = [(k, v) for k, v in headers if k.lower() not in HOP_HEADERS]
        return _answer(start_response, status, content, [*passed, *via, *ours])

    def close(self) -> None:
        """Nothing to release: origins are reached inside the world."""
