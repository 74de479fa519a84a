"""The CloudFront edge of the emulated world: viewer requests to a distribution's domain name.

The world's DNS answers every distribution's ``*.cloudfront.net`` name with the edge's address
(``127.S.250.2``, :mod:`pytest_drtest.gateway.addresses`). The edge picks the distribution by the
request's ``Host`` header and lets the CloudFront emulation route it
(:meth:`~pytest_drtest.emulation.cloudfront.routing.Routing.request`): the origin group's
primary first, the secondary when the primary cannot be connected to or answers a failover
status code (``GET``, ``HEAD``, ``OPTIONS`` only). An origin the emulation finds serving gets the
request for real, over HTTP to its listener (a load balancer of the web tier); its status decides
the failover and its answer is the viewer's. On a paced clock the edge waits the modeled
connection attempts (``ConnectionAttempts`` × ``ConnectionTimeout``) in wall time.

Headers of every answer: ``X-Cache: Miss from cloudfront`` (the emulation has no cache) and
``Via``, as CloudFront adds them; and three of the emulation's, for probes and tests:
``X-Drtest-Origin-Region`` (the Region of the origin that answered), ``X-Drtest-Failed-Over``
(``true`` when the secondary answered) and ``X-Drtest-Connect-Seconds`` (the modeled seconds spent
on connection attempts).
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

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

    def __init__(self, network: NetworkWorld, origin_port: Callable[[], int]) -> None:
        self.network = network
        self.origin_port = origin_port  # the port the web tier's load balancers listen on
        self.session = requests.Session()
        self.session.trust_env = False  # loopback addresses: never through a proxy of the environment

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = str(environ.get("HTTP_HOST") or "").split(":")[0].lower().rstrip(".")
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", "/"))
        cloudfront: Any = self.network.emulation.services.get("cloudfront")
        via = [("Via", f"1.1 {hashlib.sha1(host.encode()).hexdigest()[:32]}.cloudfront.net (CloudFront)"),
               ("X-Cache", "Miss from cloudfront")]
        answered: dict[str, requests.Response] = {}

        def serve(origin: str) -> int:
            endpoint = self.network.emulation.endpoints.get(origin)
            address = getattr(endpoint, "address", None)
            if not address:
                return 502
            port = self.origin_port()
            url = f"http://{address}{'' if port == 80 else f':{port}'}{raw}"
            headers = {"Host": origin, "Content-Type": str(environ.get("CONTENT_TYPE") or "text/plain")}
            with self.network.lock.released():
                try:
                    response = self.session.request(method, url, data=body, headers=headers, timeout=(2, 30))
                except requests.RequestException:
                    return 504
            answered[origin] = response
            return response.status_code

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
        response = answered.get(answer.domain.lower().rstrip("."))
        if response is None or response.status_code != answer.status:  # the edge's own error, or the model's origin status
            return _answer(start_response, answer.status, f"CloudFront: HTTP {answer.status} from origin {answer.origin_id}".encode(),
                           [("Content-Type", "text/plain"), *via, *ours])
        passed = [(k, v) for k, v in response.headers.items() if k.lower() not in HOP_HEADERS]
        return _answer(start_response, response.status_code, response.content, [*passed, *via, *ours])

    def close(self) -> None:
        self.session.close()
