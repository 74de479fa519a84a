"""RDS DB instances as AWS runs them, on real PostgreSQL and the run's clock.

moto stores the metadata of DB instances but nothing behaves: an instance is ``available`` at
once and has no data, ``ForceFailover`` does nothing, there is no secondary AZ, a promoted replica
keeps its source, deleting a cross-region replica raises a raw ``ValueError``, snapshots are
instant and PITR ignores the restore time. This emulator owns every DB instance that is not an
Aurora cluster member (:mod:`pytest_drtest.emulation.aurora` owns those) and adds:

* a **real PostgreSQL server** per instance (:attr:`Emulation.dataplane`) behind a stable
  :class:`~pytest_drtest.dataplane.EndpointProxy`: ``Endpoint`` is ``127.0.0.1:<proxy port>``, the
  master user, password and database of the call exist on the server (see ``connection_info``);
* **statuses on the clock** (``base``): ``creating`` -> ``available`` after ``rds_create_time``;
  the endpoint refuses connections while the instance is not serving (creating, rebooting, AZ or
  region lost);
* **Multi-AZ** (``multi_az``): a synchronous standby in ``SecondaryAvailabilityZone``; a reboot
  with ``ForceFailover`` or the loss of the primary's AZ promotes it after
  ``rds_multi_az_failover`` (the AZ fields swap, a new standby is made, events 0013/0015/0049);
* **read replicas** (``replicas``), in-region or cross-region, whose lag is held on the clock
  (``rds_replica_lag``); a region loss cuts the cross-region links (what they held is lost);
  promotion goes ``modifying`` -> ``rebooting`` -> ``available`` in ``rds_promotion_time``;
* **snapshots** (``snapshots``): base backups taken at the call, ``creating`` -> ``available``,
  copies to other regions;
* **restores** (``restores``) into NEW instances, from a snapshot or to a point in time (exactly
  the data as of the restore time, within ``[creation, now - rds_pitr_latest_lag]``);
* ``DescribeEvents`` answered from the shared RDS event log (:mod:`pytest_drtest.emulation.rds_common`).

Only the ``postgres`` engine is emulated. Every login is checked (``scram-sha-256``): a wrong
password gets PostgreSQL's ``password authentication failed for user "..."``;
``ModifyDBInstance(MasterUserPassword=...)`` changes the master role's password at the call
(``responses``); restores keep the password of their data. IAM database authentication is not
emulated (docs/credentials.md).
"""
from __future__ import annotations

from pytest_drtest.emulation.rds.models import (
    FORCE_FAILOVER_SINGLE_AZ,
    SUPPORTED_ENGINES,
    DbInstance,
    DbSnapshotRecord,
)
from pytest_drtest.emulation.rds.responses import RdsInstanceEmulator
from pytest_drtest.emulation.rds_common import create_master

__all__ = [
    "FORCE_FAILOVER_SINGLE_AZ",
    "SUPPORTED_ENGINES",
    "DbInstance",
    "DbSnapshotRecord",
    "RdsInstanceEmulator",
    "create_master",
]
