"""A real AWS account, for game days. Refuses to run without an explicit account allowlist."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import boto3

from pytest_drtest.backends.base import Backend
from pytest_drtest.errors import BackendRefused


class AwsBackend(Backend):
    """Real AWS: no emulation, wall-clock time, figures reported as measured.

    ``start()`` asks STS who the caller is and refuses unless the account is in the allowlist
    given with ``--dr-aws-accounts`` (ini ``dr_aws_accounts``).
    """

    name = "aws"
    emulated = False

    def __init__(self, allowlist: Iterable[str], session: boto3.Session | None = None) -> None:
        self.allowlist = tuple(str(a).strip() for a in allowlist if str(a).strip())
        self._session = session
        self.account: str | None = None

    def new_session(self) -> boto3.Session:
        return self._session or boto3.Session()

    def start(self) -> None:
        if not self.allowlist:
            raise BackendRefused(
                "the aws backend sends real requests: give the accounts it may touch with "
                "--dr-aws-accounts=123456789012[,...] (ini dr_aws_accounts)"
            )
        for account in self.allowlist:
            if not (account.isdigit() and len(account) == 12):
                raise BackendRefused(f"--dr-aws-accounts: {account!r} is not a 12-digit AWS account id")
        sts: Any = self.new_session().client("sts")
        account = sts.get_caller_identity()["Account"]
        if account not in self.allowlist:
            raise BackendRefused(
                f"the credentials belong to account {account}, which is not in --dr-aws-accounts "
                f"({', '.join(self.allowlist)}); refusing to run"
            )
        self.account = account

    def stop(self) -> None:
        """Nothing to stop: the topology's teardown deletes what the test created."""

    def describe(self) -> str:
        return f"aws (account {self.account or '?'})"
