"""Backends: what answers the AWS calls (moto in-process, a moto server, LocalStack, real AWS)."""
from __future__ import annotations

from pytest_drtest.backends.base import Backend, ClientFactory, make_backend

BACKEND_NAMES = ("moto", "moto-server", "localstack", "aws")

__all__ = ["BACKEND_NAMES", "Backend", "ClientFactory", "make_backend"]
