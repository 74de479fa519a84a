"""ElastiCache for Valkey and Redis OSS (cluster mode disabled) on real Redis servers.

What moto does (moto 5.2.5): replication groups are stored and ``available`` at once, with made-up
endpoints and every node in one AZ; there is no data, no ``TestFailover``, no global datastore.

What this package adds, on the run's clock and on real Redis (:mod:`pytest_drtest.dataplane.redis`):

- **Replication groups** (``responses``): ``creating`` for ``elasticache_create_time``; one Redis
  server per node, spread across the Region's AZs; replicas replicate asynchronously with the lag
  ``elasticache_replication_lag`` held on the clock; the primary and reader endpoints on their own
  loopback addresses (port 6379), answered by the world's DNS. Unknown engines, versions and node
  types are ``InvalidParameterValue``.
- **Multi-AZ failover** (``failover``): a lost primary (its AZ, or ``TestFailover``) stops at once,
  what it had not replicated is lost, a replica is promoted after ``elasticache_failover`` and the
  primary endpoint follows it; the failed node is recovered (empty, resynced) after
  ``elasticache_node_recovery_time``; the documented events are logged.
- **Global datastore** (``global_datastore``): a secondary group in another Region replicates with
  ``elasticache_global_lag``; ``FailoverGlobalReplicationGroup`` swaps the roles after
  ``elasticache_global_failover``; a lost primary Region loses what it held.
"""
from __future__ import annotations

from pytest_drtest.emulation.elasticache.models import (
    CacheNode,
    GlobalDatastore,
    ReplicationGroup,
)
from pytest_drtest.emulation.elasticache.responses import ElastiCacheEmulator

__all__ = ["CacheNode", "ElastiCacheEmulator", "GlobalDatastore", "ReplicationGroup"]
