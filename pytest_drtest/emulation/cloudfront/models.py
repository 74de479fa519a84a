"""CloudFront distributions as the emulation models them: origins, origin groups, cache behaviors.

[BC:cloudfront] ``Origin``: ``ConnectionAttempts`` 1-3 (default 3), ``ConnectionTimeout`` 1-10 s
(default 10); ``OriginGroup``: two members (``OriginGroupMemberList`` min 2, max 2), the first
the primary, and ``FailoverCriteria.StatusCodes``. The status codes CloudFront accepts for
failover: "any combination of the following status codes: 400, 403, 404, 416, 500, 502, 503, or
504" (CloudFront Developer Guide, "Optimize high availability with CloudFront origin failover",
*Create an origin group*; the 2023 archived page lists 403, 404, 500, 502, 503 and 504 only).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pytest_drtest.emulation.core import AwsError

#: Status codes an origin group may fail over on (CloudFront Developer Guide, origin failover).
FAILOVER_STATUS_CODES = frozenset({400, 403, 404, 416, 500, 502, 503, 504})
#: Viewer methods for which CloudFront fails over ("only when the HTTP method of the viewer
#: request is GET, HEAD, or OPTIONS").
FAILOVER_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_CONNECTION_ATTEMPTS = 3  # [BC:cloudfront] Origin.ConnectionAttempts
DEFAULT_CONNECTION_TIMEOUT = 10  # [BC:cloudfront] Origin.ConnectionTimeout, seconds
#: What CloudFront answers the viewer when it cannot connect to the (last) origin: "these settings
#: affect how quickly CloudFront returns an HTTP 504 response to the viewer" (origin failover page).
CONNECTION_FAILURE_STATUS = 504
#: What CloudFront answers when the origin's domain name does not resolve (CloudFront Developer
#: Guide, "HTTP 502 status code (Bad Gateway)": DNS error).
UNRESOLVED_STATUS = 502


#: What S3 answers for a key that does not exist to a requester without ``s3:ListBucket`` — the
#: case of CloudFront's origin access control, which grants ``s3:GetObject`` ([BC:s3] GetObject:
#: "If you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP status code 403").
S3_MISSING_KEY_STATUS = 403
#: S3 origin domain names: ``<bucket>.s3.amazonaws.com``, ``<bucket>.s3.<region>.amazonaws.com``,
#: ``<bucket>.s3-<region>.amazonaws.com`` and the website endpoints ``<bucket>.s3-website[-.]<region>...``.
S3_ORIGIN = re.compile(r"^(?P<bucket>.+?)\.s3(?:[.-]website)?(?:[.-][a-z0-9-]+)?\.amazonaws\.com$")


@dataclass(frozen=True)
class OriginSpec:
    id: str
    domain: str
    attempts: int = DEFAULT_CONNECTION_ATTEMPTS
    timeout: float = DEFAULT_CONNECTION_TIMEOUT
    path: str = ""  # OriginPath: prefixed to the request's path


@dataclass(frozen=True)
class OriginGroupSpec:
    id: str
    primary: str
    secondary: str
    status_codes: frozenset[int]


@dataclass(frozen=True)
class Behavior:
    path_pattern: str  # "*" for the default cache behavior
    target: str  # an origin id or an origin group id


@dataclass
class DistributionSpec:
    id: str
    domain: str
    origins: dict[str, OriginSpec]
    groups: dict[str, OriginGroupSpec]
    behaviors: list[Behavior]  # in order, the default behavior last

    def behavior_for(self, path: str) -> Behavior:
        """The first cache behavior whose path pattern matches ``path``, else the default
        (CloudFront Developer Guide, "Path pattern": ``*`` and ``?`` wildcards, case-sensitive,
        evaluated in the order listed)."""
        if not path.startswith("/"):
            path = "/" + path
        for behavior in self.behaviors[:-1]:
            pattern = behavior.path_pattern if behavior.path_pattern.startswith("/") else "/" + behavior.path_pattern
            if _pattern(pattern).fullmatch(path):
                return behavior
        return self.behaviors[-1]


@dataclass(frozen=True)
class Attempt:
    """One origin CloudFront tried for a request: its answer and the modeled time spent on it."""

    origin_id: str
    domain: str
    status: int | None  # None: no connection
    seconds: float
    connection_attempts: int


@dataclass
class ViewerResponse:
    """What a viewer's request through the distribution got."""

    distribution_id: str
    path: str
    method: str
    status: int
    origin_id: str  # the origin that answered (or was tried last)
    domain: str
    seconds: float  # modeled time: connection timeouts of every origin tried
    failed_over: bool
    attempts: list[Attempt] = field(default_factory=list)


def _pattern(pattern: str) -> re.Pattern[str]:
    """A CloudFront path pattern: ``*`` any characters (``/`` too), ``?`` one character."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def _items(container: Any) -> list[Any]:
    if not isinstance(container, dict):
        return []
    items = container.get("Items") or []
    return list(items) if isinstance(items, list) else []


def _quantity(container: Any, where: str) -> None:
    """[BC:cloudfront] InconsistentQuantities: a ``Quantity`` that is not the number of ``Items``."""
    if isinstance(container, dict) and "Quantity" in container and container["Quantity"] != len(_items(container)):
        raise AwsError("InconsistentQuantities", f"The value of Quantity and the size of Items don't match ({where}).")


def check_config(config: dict[str, Any]) -> None:
    """Raise CloudFront's error for what moto accepts but CloudFront refuses in a DistributionConfig."""
    origins = _items(config.get("Origins"))
    origin_ids = {str(o.get("Id")) for o in origins if isinstance(o, dict)}
    for origin in origins:
        if not isinstance(origin, dict):
            continue
        attempts = origin.get("ConnectionAttempts")
        if attempts is not None and not 1 <= int(attempts) <= 3:
            raise AwsError("InvalidArgument", f"ConnectionAttempts of origin {origin.get('Id')} must be between 1 and 3, got {attempts}.")
        timeout = origin.get("ConnectionTimeout")
        if timeout is not None and not 1 <= int(timeout) <= 10:
            raise AwsError("InvalidArgument", f"ConnectionTimeout of origin {origin.get('Id')} must be between 1 and 10, got {timeout}.")
    groups_container = config.get("OriginGroups")
    _quantity(groups_container, "OriginGroups")
    group_ids: set[str] = set()
    for group in _items(groups_container):
        if not isinstance(group, dict):
            continue
        gid = str(group.get("Id"))
        if gid in origin_ids or gid in group_ids:
            raise AwsError("InvalidArgument", f"The origin group ID {gid} is already in use by another origin or origin group.")
        group_ids.add(gid)
        members_container = group.get("Members")
        _quantity(members_container, f"origin group {gid} Members")
        members = _items(members_container)
        if len(members) != 2:
            raise AwsError("InvalidArgument", f"Origin group {gid} must have exactly 2 members (a primary and a secondary), got {len(members)}.")
        for member in members:
            if str(member.get("OriginId")) not in origin_ids:
                raise AwsError("NoSuchOrigin", f"One or more of your origins or origin groups do not exist: {member.get('OriginId')}.", 404)
        codes_container = (group.get("FailoverCriteria") or {}).get("StatusCodes")
        _quantity(codes_container, f"origin group {gid} StatusCodes")
        for code in _items(codes_container):
            if code not in FAILOVER_STATUS_CODES:
                allowed = ", ".join(str(c) for c in sorted(FAILOVER_STATUS_CODES))
                raise AwsError("InvalidArgument", f"Status code {code} of origin group {gid} is not a valid failover criterion; allowed: {allowed}.")
    for behavior in [config.get("DefaultCacheBehavior") or {}, *_items(config.get("CacheBehaviors"))]:
        target = behavior.get("TargetOriginId") if isinstance(behavior, dict) else None
        if target is not None and str(target) not in origin_ids | group_ids:
            raise AwsError("NoSuchOrigin", f"One or more of your origins or origin groups do not exist: {target}.", 404)


def parse_distribution(dist_id: str, domain: str, config: dict[str, Any]) -> DistributionSpec:
    """A distribution from its (caller's) DistributionConfig."""
    origins = {
        str(o["Id"]): OriginSpec(
            str(o["Id"]),
            str(o["DomainName"]),
            int(o.get("ConnectionAttempts") or DEFAULT_CONNECTION_ATTEMPTS),
            float(o.get("ConnectionTimeout") or DEFAULT_CONNECTION_TIMEOUT),
            str(o.get("OriginPath") or ""),
        )
        for o in _items(config.get("Origins"))
    }
    groups: dict[str, OriginGroupSpec] = {}
    for group in _items(config.get("OriginGroups")):
        members = [str(m["OriginId"]) for m in _items(group.get("Members"))]
        codes = frozenset(int(c) for c in _items((group.get("FailoverCriteria") or {}).get("StatusCodes")))
        groups[str(group["Id"])] = OriginGroupSpec(str(group["Id"]), members[0], members[1], codes)
    behaviors = [Behavior(str(b.get("PathPattern", "*")), str(b["TargetOriginId"])) for b in _items(config.get("CacheBehaviors"))]
    behaviors.append(Behavior("*", str((config.get("DefaultCacheBehavior") or {})["TargetOriginId"])))
    return DistributionSpec(dist_id, domain, origins, groups, behaviors)
