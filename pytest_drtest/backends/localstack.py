"""LocalStack community over HTTP (started by the user or CI; see docs/backends.md)."""
from __future__ import annotations

import os

import requests

from typing import Any

from pytest_drtest.backends.base import Backend, check_loopback, patched_environ
from pytest_drtest.errors import DrConfigError


class LocalStackBackend(Backend):
    """LocalStack at ``--dr-endpoint`` (default ``$LOCALSTACK_HOST`` or 127.0.0.1:4566).

    LocalStack has no state reset: the harness deletes what it created at teardown. LocalStack
    community answers DynamoDB, S3, Route 53 and EC2, but ELBv2, Auto Scaling, RDS and AWS Backup
    are Pro-only there, so the shipped topologies (which need an ALB, an ASG and RDS) do not build
    on it. Users' own tests that use ``dr.client``, ``dr.clock`` and the emulation of DynamoDB, S3
    and Route 53 (replication, PITR, health checks) without ``dr.topology`` do run.
    """

    name = "localstack"
    emulated = True

    def __init__(self, endpoint: str | None = None) -> None:
        host = os.environ.get("LOCALSTACK_HOST", "127.0.0.1:4566")
        self.endpoint_url = check_loopback(endpoint or f"http://{host}", "localstack")
        self._env: Any = None

    def start(self) -> None:
        try:
            response = requests.get(f"{self.endpoint_url}/_localstack/health", timeout=5)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise DrConfigError(
                f"LocalStack is not answering at {self.endpoint_url} ({exc.__class__.__name__}); "
                "start it first (docs/backends.md) or pass --dr-endpoint"
            ) from None

        # plain boto3.client(...) calls in users' code go to LocalStack too (botocore >= 1.31)
        self._env = patched_environ({"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": "test",
                                     "AWS_SECRET_ACCESS_KEY": "test"})
        self._env.__enter__()

    def stop(self) -> None:
        """Resources are deleted by the topology's teardown; the server keeps running."""
        if self._env is not None:
            self._env.__exit__(None, None, None)
            self._env = None

    def describe(self) -> str:
        return f"localstack ({self.endpoint_url})"
