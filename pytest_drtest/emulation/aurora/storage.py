"""Cluster volumes and endpoints on the data plane, and clusters becoming available on the clock.

[AUR-UG:Aurora.Overview]: a cluster's instances share one storage volume, so any reader can take
over without losing an acknowledged write. Here the volume is one PostgreSQL server; the writer
runs on it and each reader is a synchronous standby (``FIRST n``, ``remote_apply``).
[AUR-UG:Aurora.Overview.Endpoints]: the cluster endpoint follows the writer; the reader endpoint
goes to a reader, or to the writer when there is none.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from pytest_drtest.emulation.aurora.base import AuroraBase
from pytest_drtest.emulation.aurora.models import (
    AVAILABLE,
    CREATING,
    FAILING_OVER,
    AuroraCluster,
    AuroraInstance,
)
from pytest_drtest.emulation.core import Endpoint
from pytest_drtest.emulation.rds_common import (
    create_master,
    endpoint_address,
    switch_endpoint,
)

if TYPE_CHECKING:
    from pytest_drtest.dataplane import PostgresServer


class Storage(AuroraBase):
    """Volumes, their synchronous standbys, and the endpoints pointed at whoever serves now."""

    def _new_volume(self, cluster: AuroraCluster) -> None:
        """An empty volume with the cluster's master user and database (CreateDBCluster)."""
        plane = self._plane()
        if plane is None:
            return
        server = plane.create_server(self._server_name(cluster, "vol"))
        cluster.head = server
        create_master(server, cluster.master_user, cluster.master_password or "", cluster.database_name or "postgres")
        self._configure_volume(cluster)

    def _configure_volume(self, cluster: AuroraCluster) -> None:
        """Make every live reader's standby synchronous (``FIRST n``): no reader misses a commit."""
        head = cluster.head
        if head is None or cluster.replica is not None or not head.running:
            return
        names = [
            i.server.name for i in cluster.members()
            if i.server is not None and i.server is not head and i.server.running
        ]
        quoted = ", ".join(f'"{name}"' for name in names)
        head.configure(
            synchronous_standby_names=f"FIRST {len(names)} ({quoted})" if names else None,
            synchronous_commit="remote_apply",
        )

    def _new_standby(self, cluster: AuroraCluster, instance: AuroraInstance) -> None:
        """Give a reader of a primary cluster its own synchronous standby of the volume."""
        plane = self._plane()
        if plane is None or cluster.head is None or not cluster.head.running:
            instance.server = None
            return
        instance.server = plane.add_sync_standby(cluster.head, self._server_name(cluster, instance.id[:12]))
        self._configure_volume(cluster)

    def _retire(self, cluster: AuroraCluster, server: PostgresServer | None) -> None:
        """Kill a server that no longer serves the cluster (its folder goes with the data plane)."""
        if server is None:
            return
        with contextlib.suppress(Exception):
            server.kill()
        if server not in cluster.retired:
            cluster.retired.append(server)

    def _proxies(self, cluster: AuroraCluster) -> None:
        """Create the cluster's writer and reader endpoints (once) and register their health."""
        plane = self._plane()
        if plane is None or cluster.writer_proxy is not None:
            return
        # each endpoint on its own loopback address and port 5432 [AUR-UG:Aurora.Overview.Endpoints]
        host, port = endpoint_address(self.emulation, cluster.region, cluster.host)
        cluster.writer_proxy = plane.endpoint(name=f"{cluster.id[:40]}-writer", host=host, port=port)
        host, port = endpoint_address(self.emulation, cluster.region, cluster.reader_host)
        cluster.reader_proxy = plane.endpoint(name=f"{cluster.id[:40]}-reader", host=host, port=port)
        writer, reader = cluster.writer_proxy, cluster.reader_proxy
        self.emulation.register_endpoint(Endpoint(cluster.host, cluster.region, lambda: writer.target_port is not None,
                                                  "aurora-writer", address=writer.host))
        self.emulation.register_endpoint(Endpoint(cluster.reader_host, cluster.region, lambda: reader.target_port is not None,
                                                  "aurora-reader", address=reader.host))

    def _route(self, cluster: AuroraCluster) -> None:
        """Point every endpoint of the cluster at the node that should answer it now [AUR-UG:Aurora.Overview.Endpoints]."""
        if cluster.writer_proxy is None or cluster.reader_proxy is None or cluster.deleted:
            return
        up = self.world.region_up(cluster.region)
        writer = cluster.writer_instance()
        writer_port: int | None = None
        if up and cluster.status != CREATING and not cluster.fenced:
            if cluster.replica is not None:  # a secondary: read-only through every endpoint
                if cluster.head is not None and any(self._serving(i) for i in cluster.members()):
                    writer_port = cluster.head.port
            elif writer is not None and cluster.status == AVAILABLE and self._serving(writer):
                writer_port = writer.server.port  # type: ignore[union-attr]
        readers = sorted(
            (i for i in cluster.members() if i is not writer and self._serving(i)),
            key=lambda i: (i.promotion_tier, i.id),
        )
        reader_port = readers[0].server.port if up and readers else writer_port  # type: ignore[union-attr]
        switch_endpoint(cluster.writer_proxy, writer_port)
        switch_endpoint(cluster.reader_proxy, reader_port)
        for instance in cluster.members():
            if instance.endpoint is None:
                continue
            stopped_writer = instance is writer and (cluster.fenced or cluster.status == FAILING_OVER)
            serving = up and self._serving(instance) and not stopped_writer
            switch_endpoint(instance.endpoint, instance.server.port if serving else None)  # type: ignore[union-attr]

    # -- clusters on the clock --------------------------------------------------------------
    def _schedule_available(self, cluster: AuroraCluster, key: str, *, created_event: bool,
                            then: Callable[[], None] | None = None, origin: str = "") -> None:
        """``creating`` for ``key``'s figure (drawn per cluster and what it is made from), then ``available``."""
        delay = self._sample(key, f"available:{cluster.region}/{cluster.id}" + (f"<-{origin}" if origin else ""))

        def available() -> None:
            if cluster.deleted:
                return
            cluster.status = AVAILABLE
            if created_event:
                self._cluster_event(cluster, "RDS-EVENT-0170", "DB cluster created.", "creation")
            if then is not None:
                then()
            self._route(cluster)

        self.later(delay, available, name=f"aurora:available:{cluster.id}")
