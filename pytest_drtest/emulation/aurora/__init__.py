"""Aurora PostgreSQL: clusters, member instances, failover, global databases, PITR and snapshots.

What moto does (moto 5.2.5, checked): a DB cluster is ``creating`` on the first describe and
``available`` after; every member instance is ``available`` at once and lands in AZ ``a``;
``failover_db_cluster`` swaps the writer flag instantly and picks the first reader (not the best
PromotionTier); global clusters live in us-east-1's backend only, so a source cluster in another
region is "not found", the source is reported ``IsWriter: false``, ``remove_from_global_cluster``
does nothing across regions and ``failover_global_cluster``/``switchover_global_cluster`` are
NotImplemented; ``restore_db_cluster_to_point_in_time`` ignores the time (and copies the source's
global membership); snapshots are ``available`` at once; no data exists anywhere.

What this package adds, on the run's clock and on real PostgreSQL (:mod:`pytest_drtest.dataplane`):

- **Storage** (``storage``). A cluster's volume is one PostgreSQL server. The writer instance runs on it; each
  reader is a synchronous standby (``FIRST n`` of all readers, ``remote_apply``), so a failover to
  any reader loses no acknowledged write and a read on a reader sees every acknowledged write.
  Aurora's shared storage gives the same guarantees ([AUR-UG:Aurora.Overview]).
- **Endpoints** (``storage``). The writer endpoint, the reader endpoint and every instance endpoint are stable
  127.0.0.1 ports (:class:`~pytest_drtest.dataplane.EndpointProxy`). Responses keep AWS-shaped
  host names; :meth:`AuroraEmulator.connection_info` and :meth:`AuroraEmulator.resolve` give the
  local address. The reader endpoint goes to a reader, or to the writer when there is none
  ([AUR-UG:Aurora.Overview.Endpoints]).
- **Lifecycle** (``storage``, ``responses``). Clusters and instances are ``creating`` for ``rds_create_time``; restores for
  ``rds_restore_time``; cluster snapshots for ``rds_snapshot_time``.
- **Failover** (``failover``). ``failing-over`` for ``aurora_failover``: the old writer stops at once, the
  writer endpoint refuses, then the chosen reader (TargetDBInstanceIdentifier, else the best
  PromotionTier, then the identifier) is promoted, the old writer comes back as a reader, flags
  swap and events RDS-EVENT-0072/0073 and -0071 are logged. A cluster without a reader refuses
  the call (``InvalidDBClusterStateFault``, as moto and the API reference say). Losing the writer's
  AZ fails over automatically; with no reader the writer is rebuilt in place in an AZ that is up
  (the UG's "typically under 10 minutes": modeled with ``rds_create_time``, the closest key).
- **Reboot** (``responses``) of a member instance: ``rebooting`` for ``rds_reboot_time``, then ``available``
  on the same server (no data lost, no failover) and RDS-EVENT-0006. Its endpoints refuse meanwhile:
  the writer's instance and cluster endpoints, or a reader's instance endpoint. On Aurora PostgreSQL
  versions without "read availability" (moto's default 12.7) the readers reboot with the writer.
  ``ForceFailover`` is refused: an Aurora instance is not Multi-AZ (FailoverDBCluster fails over).
- **Global database** (``global_database``). A secondary cluster is an async replica of the primary's volume whose
  lag (``aurora_global_lag``) is held on the clock; it has no writer (writes fail read-only).
  ``switchover_global_cluster`` lets the secondary catch up before promoting it (no loss);
  ``failover_global_cluster(AllowDataLoss=True)`` cuts replication and promotes what arrived;
  both take ``aurora_global_failover``, report ``failing-over``/``switching-over`` with a
  ``FailoverState`` and then swap roles; the old primary is rebuilt as a secondary.
  ``remove_from_global_cluster`` promotes a secondary at once (replication stops: the lag is lost).
  A lost region cuts the replication link: what it held is lost.
- **PITR and snapshots** (``snapshots``). Restores land in NEW clusters without instances, holding exactly the
  data as of the time (PostgreSQL's WAL archive, replayed to the clock time), and the master
  password of that time.
- **Credentials** (``responses``). Every login is checked (``scram-sha-256``); the master user and
  password of ``CreateDBCluster`` log in, a wrong password gets PostgreSQL's ``password
  authentication failed``. ``ModifyDBCluster(MasterUserPassword=...)`` changes the password at once,
  as AWS documents for it; readers and global secondaries follow through replication. IAM database
  authentication is not emulated (docs/credentials.md).

Events go to the shared :class:`~pytest_drtest.emulation.rds_common.RdsEventLog`, which answers
``DescribeEvents``.
"""
from __future__ import annotations

from pytest_drtest.emulation.aurora.models import (
    AVAILABLE,
    CREATING,
    ENGINE,
    FAILING_OVER,
    SWITCHING_OVER,
    AuroraCluster,
    AuroraInstance,
    ClusterSnapshot,
    GlobalDatabase,
    readers_reboot_with_writer,
)
from pytest_drtest.emulation.aurora.responses import AuroraEmulator

__all__ = [
    "AVAILABLE",
    "CREATING",
    "ENGINE",
    "FAILING_OVER",
    "SWITCHING_OVER",
    "AuroraCluster",
    "AuroraEmulator",
    "AuroraInstance",
    "ClusterSnapshot",
    "GlobalDatabase",
    "readers_reboot_with_writer",
]
