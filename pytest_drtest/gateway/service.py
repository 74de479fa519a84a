"""What a child process of the world needs to know of the topology: ``DRTEST_*`` and ``PG*``."""
from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import EndpointConnectionError

if TYPE_CHECKING:
    from pytest_drtest.topology.model import Topology


def topology_env(topology: Topology, region: str) -> dict[str, str]:
    """``DRTEST_TABLE``, ``DRTEST_BUCKET``, ``DRTEST_CDN``, ``DRTEST_DB_*`` and libpq's ``PG*`` of ``region``'s app."""
    from pytest_drtest.topology.build import DB_PASSWORD, DB_USER, database_endpoint

    env: dict[str, str] = {"DRTEST_REGION_ROLE": topology.stack(region).role, "DRTEST_FQDN": topology.fqdn}
    if topology.cdn_domain:  # [cdn]: the distribution's name (the world's DNS answers it with the edge)
        env["DRTEST_CDN"] = topology.cdn_domain
    config = topology.app_config.get(region, {})
    if config.get("table"):
        env["DRTEST_TABLE"] = str(config["table"])
    stack = topology.stack(region)
    if topology.blueprint.buckets and stack.buckets:
        env["DRTEST_BUCKET"] = stack.buckets[topology.blueprint.buckets[0].name]
    database = topology.blueprint.database
    target = config.get("db")
    if database is None:
        return env
    env.update({
        "DRTEST_DB_NAME": database.name, "DRTEST_DB_USER": DB_USER, "DRTEST_DB_PASSWORD": DB_PASSWORD,
        "DRTEST_DB_TABLE": database.table, "PGDATABASE": database.name, "PGUSER": DB_USER, "PGPASSWORD": DB_PASSWORD,
        "PGSSLMODE": "disable", "PGCONNECT_TIMEOUT": "5",
    })
    if topology.db_record:
        env["DRTEST_DB_RECORD"] = topology.db_record
    if stack.database_secret:
        env["DRTEST_DB_SECRET_ARN"] = stack.database_secret
    if target is None:
        return env
    try:
        host, port = database_endpoint(topology, target)
    except EndpointConnectionError:
        return env  # the database's region is lost: there is no endpoint to give
    env.update({"DRTEST_DB_HOST": host, "DRTEST_DB_PORT": str(port), "PGHOST": host, "PGPORT": str(port)})
    return env
