"""Data API transactions: a connection held open on the writer, rolled back when idle."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from pytest_drtest.emulation.aurora import AuroraCluster

TRANSACTION_IDLE_TIMEOUT = 180.0  # "dropped and rolled back after 3 min without a call" [AUR-UG:data-api]


@dataclass
class Transaction:
    """A ``BeginTransaction``: its connection to the writer and when a call last used it."""

    id: str
    cluster: AuroraCluster
    conn: psycopg.Connection[Any]
    last_used: float
