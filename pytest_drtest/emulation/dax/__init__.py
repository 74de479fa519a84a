"""DynamoDB Accelerator (DAX): clusters on the clock, nodes across AZs, a write-through item cache.

What moto does (moto 5.2.5): clusters are stored, ``creating`` then ``available`` on the next
describe, every node in AZ ``a``, a duplicate name silently replaces a cluster; there is no cache.
This package adds the cluster's statuses on the clock, its nodes across the Region's AZs and
their failover (``responses``), and the item caches a DAX client reads through, with every stale
answer counted (``client``).
"""
from __future__ import annotations

from pytest_drtest.emulation.dax.client import DaxClient, DaxUnavailable
from pytest_drtest.emulation.dax.models import Cached, DaxCluster, DaxNode, StaleRead
from pytest_drtest.emulation.dax.responses import DaxEmulator

__all__ = ["Cached", "DaxClient", "DaxCluster", "DaxEmulator", "DaxNode", "DaxUnavailable", "StaleRead"]
