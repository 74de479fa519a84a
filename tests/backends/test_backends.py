"""Backends: moto server on 127.0.0.1, the aws backend's allowlist (offline, botocore Stubber)."""
from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from pytest_drtest import faults
from pytest_drtest.backends.aws import AwsBackend
from pytest_drtest.backends.localstack import LocalStackBackend
from pytest_drtest.errors import BackendRefused, DrConfigError
from pytest_drtest.harness import Harness
from pytest_drtest.settings import Settings


def _stubbed_session(account: str) -> boto3.Session:
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    sts = session.client("sts")
    stubber = Stubber(sts)
    stubber.add_response("get_caller_identity", {"Account": account, "Arn": f"arn:aws:iam::{account}:user/gameday", "UserId": "AIDA"})
    stubber.activate()
    session.client = lambda *a, **k: sts  # type: ignore[method-assign]
    return session


def test_aws_backend_refuses_without_an_allowlist():
    with pytest.raises(BackendRefused, match="--dr-aws-accounts"):
        AwsBackend(allowlist=()).start()


def test_aws_backend_refuses_malformed_account_ids():
    with pytest.raises(BackendRefused, match="'12345' is not a 12-digit AWS account id"):
        AwsBackend(allowlist=["12345"], session=_stubbed_session("111111111111")).start()


def test_aws_backend_refuses_credentials_of_another_account():
    backend = AwsBackend(allowlist=["111111111111"], session=_stubbed_session("222222222222"))
    with pytest.raises(BackendRefused, match="account 222222222222, which is not in --dr-aws-accounts"):
        backend.start()


def test_aws_backend_accepts_an_allowed_account():
    backend = AwsBackend(allowlist=["111111111111"], session=_stubbed_session("111111111111"))
    backend.start()
    assert backend.account == "111111111111" and not backend.emulated


def test_localstack_backend_only_on_loopback_and_says_when_it_is_not_running():
    with pytest.raises(DrConfigError, match="must listen on 127.0.0.1 or localhost"):
        LocalStackBackend("http://10.0.0.5:4566")
    with pytest.raises(DrConfigError, match="LocalStack is not answering at http://127.0.0.1:9"):
        LocalStackBackend("http://127.0.0.1:9").start()


def test_moto_server_backend_runs_a_region_loss_behind_its_gateways():
    settings = Settings(backend="moto-server")
    with Harness(settings, strategy="warm-standby") as dr:
        assert dr.network is not None
        slot = dr.network.plan.slot  # 0 unless another run on this machine holds it
        assert dr.env("primary")["AWS_ENDPOINT_URL"].startswith(f"http://127.{slot}.1.1")
        assert dr.env("dr")["AWS_ENDPOINT_URL"].startswith(f"http://127.{slot}.2.1")
        with dr.probe() as probe:
            dr.clock.sleep("1m")
            dr.inject(faults.RegionOutage("primary"))
            from pytest_drtest.recovery import RUNBOOKS

            RUNBOOKS["dns-failover"](dr.topology, dr.clock)
            assert probe.wait_recovered(within="30m")
            result = probe.result()
        assert result.rto_s is not None and 0 < result.rto_s < 900
        assert result.served_by.get("us-west-2", 0) > 0
