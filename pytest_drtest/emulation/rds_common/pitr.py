"""The restorable window of point-in-time recovery, shared by DB instances and Aurora clusters.

[RDS-UG:USER_PIT]: an instance restores to any second from its earliest restorable time (within
the backup retention period) to ``LatestRestorableTime``, typically within five minutes of now
(transaction logs are uploaded every five minutes); [AUR-UG:Aurora.Managing.Backups] says the
same of clusters.
"""
from __future__ import annotations

DAY = 86400.0
#: Clock times compare to the microsecond: the precision of the datetimes reported, so a time
#: copied from ``LatestRestorableTime`` (or ``EarliestRestorableTime``) lies in the window.
TIME_EPSILON = 1e-6


def restore_window(now: float, since: float, lag: float, retention_days: float | None = None) -> tuple[float, float]:
    """``(earliest, latest)`` restorable clock times.

    ``since``: when restorable data begins (the first backup); with ``retention_days`` the window
    reaches back no further than that many days. ``latest`` lags ``now`` by ``lag``
    (``rds_pitr_latest_lag``) but never precedes ``earliest``.
    """
    earliest = since if retention_days is None else max(since, now - retention_days * DAY)
    return earliest, max(earliest, now - lag)
