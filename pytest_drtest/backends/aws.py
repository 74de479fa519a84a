"""A real AWS account, for game days. Refuses to run without an explicit account allowlist."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import boto3

from pytest_drtest.backends.base import Backend, new_boto3_session
from pytest_drtest.errors import BackendRefused


class AwsBackend(Backend):
    """Real AWS: no emulation, wall-clock time, figures reported as measured.

    ``start()`` asks STS who the caller is and refuses unless the account is in the allowlist
    given with ``--dr-aws-accounts`` (ini ``dr_aws_accounts``). Faults that AWS FIS has run as FIS
    experiments under the role given with ``--dr-aws-fis-role`` (:mod:`pytest_drtest.backends.aws_faults`);
    teardown deletes everything tagged with the run's id (:mod:`pytest_drtest.backends.aws_teardown`).
    """

    name = "aws"
    emulated = False
    #: Teardown retries what it could not delete yet (a subnet waits for the load balancer's network
    #: interfaces, a cluster for its instances): this many passes, this many seconds apart.
    sweep_passes = 20
    sweep_wait_s = 30.0

    def __init__(self, allowlist: Iterable[str], session: boto3.Session | None = None, fis_role: str | None = None) -> None:
        self.allowlist = tuple(str(a).strip() for a in allowlist if str(a).strip())
        self._session = session
        self.fis_role = fis_role
        self.account: str | None = None

    def new_session(self) -> boto3.Session:
        return self._session or new_boto3_session()

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
        """Nothing to stop: the harness's teardown (:meth:`sweep`) deletes what the test created."""

    def sweep(self, clients: Any, regions: Iterable[str], run_id: str, sleep: Callable[[float], Any] = time.sleep) -> list[str]:
        """Delete every resource tagged ``drtest:run=<run_id>``; return what is left (listed by teardown)."""
        from pytest_drtest.backends.aws_teardown import sweep

        return sweep(clients, regions, run_id, passes=self.sweep_passes, wait=lambda: sleep(self.sweep_wait_s))

    def describe(self) -> str:
        return f"aws (account {self.account or '?'})"
