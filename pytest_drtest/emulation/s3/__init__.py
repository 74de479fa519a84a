"""S3: bucket home regions and Cross-Region Replication (CRR) on the run's clock.

moto stores a bucket's replication configuration and replicates nothing. The emulator adds:

- each bucket's home region: a call naming a bucket whose region is lost fails like the outage
  (``EndpointConnectionError``), whatever region the client was made for (``responses``);
- ``PutBucketReplication`` rejects an unversioned destination (moto only checks the source);
- new object versions and delete markers covered by an ``Enabled`` rule are delivered to the
  destination after a modeled lag (``s3_replication_lag``), with ``ReplicationStatus``
  ``PENDING`` → ``COMPLETED`` on the source and ``REPLICA`` on the destination (``replication``);
  replicas keep the source's version IDs in what callers see (``version_ids``);
- a delivery whose source or destination region is lost, or whose bucket is paused, is held in
  ``PENDING`` and applied, in order, when the region comes back or replication resumes;
- the clock time of every version and delete marker, answered as ``LastModified`` (``history``);
- ``RestoreObject`` of archived objects taking its tier's time, ``x-amz-restore`` while it runs,
  ``InvalidObjectState`` until it is done and after the copy expired (``glacier``).
"""
from __future__ import annotations

from pytest_drtest.emulation.s3.models import (
    COMPLETED,
    FAILED,
    PENDING,
    REPLICA,
    Delivery,
    ReplicationRule,
)
from pytest_drtest.emulation.s3.responses import S3Emulator

__all__ = ["COMPLETED", "FAILED", "PENDING", "REPLICA", "Delivery", "ReplicationRule", "S3Emulator"]
