"""LocalStack community over HTTP (started by the user or CI; see docs/backends.md)."""
from __future__ import annotations

import os

import requests

from pytest_drtest.backends.base import Backend
from pytest_drtest.errors import DrConfigError


class LocalStackBackend(Backend):
    """LocalStack at ``--dr-endpoint`` (default ``$LOCALSTACK_HOST`` or 127.0.0.1:4566).

    LocalStack has no state reset: the harness deletes what it created at teardown. LocalStack
    community answers DynamoDB, S3, Route 53 and EC2, but ELBv2, Auto Scaling, RDS and AWS Backup
    are Pro-only there, so the shipped topologies (which need an ALB and an ASG) do not build on
    it; users' own tests of the data tier (tables, buckets, records, faults) run.
    """

    name = "localstack"
    emulated = True

    def __init__(self, endpoint: str | None = None) -> None:
        host = os.environ.get("LOCALSTACK_HOST", "127.0.0.1:4566")
        self.endpoint_url = (endpoint or f"http://{host}").rstrip("/")
        if not self.endpoint_url.startswith(("http://127.", "http://localhost", "https://127.", "https://localhost")):
            raise DrConfigError(
                f"--dr-endpoint {self.endpoint_url!r}: LocalStack must listen on 127.0.0.1 or localhost"
            )

    def start(self) -> None:
        try:
            response = requests.get(f"{self.endpoint_url}/_localstack/health", timeout=5)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise DrConfigError(
                f"LocalStack is not answering at {self.endpoint_url} ({exc.__class__.__name__}); "
                "start it first (docs/backends.md) or pass --dr-endpoint"
            ) from None

    def stop(self) -> None:
        """Resources are deleted by the topology's teardown; the server keeps running."""

    def describe(self) -> str:
        return f"localstack ({self.endpoint_url})"
