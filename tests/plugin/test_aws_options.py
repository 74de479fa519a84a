"""The aws backend's options through pytest: usage errors naming the option, and ``--dr-plan`` (offline:
moto's ``mock_aws`` stands in for the account; the proxy variables point at a closed port)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from pytest_drtest.backends.aws import AwsBackend

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fis-gameday"
AWS = ["--dr-backend=aws", "-p", "no:cacheprovider"]


@pytest.mark.parametrize(("args", "message"), [
    (["--dr-plan"], ("--dr-plan prints what a game day would do on a real account: use it with --dr-backend=aws and "
                     "--dr-scenario=NAME (this run: --dr-backend=moto, --dr-scenario=(none))")),
    ([*AWS, "--dr-plan"], "--dr-plan prints what a game day would do on a real account"),
    ([*AWS, "--dr-scenario=warm-standby", "--dr-plan"], "--dr-backend=aws: give the accounts it may touch with --dr-aws-accounts"),
    ([*AWS, "--dr-scenario=warm-standby", "--dr-plan", "--dr-aws-accounts=12345"],
     "--dr-aws-accounts: '12345' is not a 12-digit AWS account id"),
    ([*AWS, "--dr-scenario=warm-standby", "--dr-plan", f"--dr-aws-accounts={ACCOUNT}"],
     "--dr-aws-fis-role: scenario warm-standby injects database-az-outage, fis-az-power, reboot-with-failover through AWS FIS"),
    ([*AWS, "--dr-scenario=warm-standby", f"--dr-aws-accounts={ACCOUNT}", f"--dr-aws-fis-role={ROLE}"],
     "--dr-scenario=warm-standby: the scenario warm-standby builds a shipped topology, whose web tier's application exists only in the emulation"),
    ([*AWS, "--dr-scenario=pilot-light", f"--dr-aws-accounts={ACCOUNT}", f"--dr-aws-fis-role={ROLE}"],  # the shipped template
     "--dr-scenario=pilot-light: the scenario pilot-light builds a shipped topology, whose web tier's application exists only"),
    ([*AWS, "--dr-aws-fis-role=fis-gameday"], "--dr-aws-fis-role: expected an IAM role ARN like arn:aws:iam::123456789012:role/"),
])
def test_bad_aws_options_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str(), result.stderr.str()


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """moto as the account; yields the operations every session of the aws backend calls."""
    from moto import mock_aws

    from pytest_drtest.backends.moto import _speed_up_moto

    _speed_up_moto()
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "MOTO_EC2_LOAD_DEFAULT_AMIS": "false", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}.items():
        monkeypatch.setenv(key, value)
    calls: list[str] = []
    made = AwsBackend.new_session

    def recorded(self: AwsBackend) -> boto3.Session:
        session = made(self)
        session.events.register("before-call", lambda model, **_: calls.append(f"{model.service_model.service_name}.{model.name}"))
        return session

    monkeypatch.setattr(AwsBackend, "new_session", recorded)
    with mock_aws():
        yield calls


def test_the_plan_from_ini_keys_prints_and_exits_having_only_read(pytester: pytest.Pytester, account: list[str]) -> None:
    pytester.makeini(f"[pytest]\ndr_backend = aws\ndr_aws_accounts = {ACCOUNT}\ndr_aws_fis_role = {ROLE}\ndr_plan = true\n"
                     "dr_scenario = pilot-light\n")
    pytester.makepyfile("def test_never_runs():\n    raise AssertionError('the plan runs no test')\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([
        "*drtest plan (--dr-plan)*",
        f"account {ACCOUNT}; nothing below has been created: --dr-plan makes read calls only",
        "scenario pilot-light (pilot-light) in *",
        "*NOTE: the FIS role arn:aws:iam::123456789012:role/fis-gameday cannot be read (NoSuchEntity)*",
    ])
    assert "test_never_runs" not in result.stdout.str()
    assert account and all(c.split(".")[1].startswith(("Describe", "List", "Get")) for c in account), account
    assert "sts.GetCallerIdentity" in account


def test_the_plan_refuses_an_account_outside_the_allowlist(pytester: pytest.Pytester, account: list[str]) -> None:
    result = pytester.runpytest(*AWS, "--dr-scenario=backup-restore", "--dr-plan", "--dr-aws-accounts=111111111111",
                                f"--dr-aws-fis-role={ROLE}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (f"the credentials belong to account {ACCOUNT}, which is not in --dr-aws-accounts (111111111111); refusing to run"
            in result.stderr.str())
    assert account == ["sts.GetCallerIdentity"]


def test_a_scenario_on_the_teams_stack_is_accepted_and_its_plan_lists_the_stacks(pytester: pytest.Pytester,
                                                                                 account: list[str]) -> None:
    stack = Path(__file__).parents[1] / "backends" / "stacks" / "account-web.yaml"
    pytester.makefile(".toml", shop=f'name = "shop"\nstrategy = "warm-standby"\nblueprint = "{stack}"\n'
                                    '[[experiments]]\nname = "corrupt"\nfault = { kind = "corrupt-table", table = "orders" }\n'
                                    'runbook = "none"\n')
    result = pytester.runpytest(*AWS, "--dr-scenario=shop.toml", "--dr-plan", f"--dr-aws-accounts={ACCOUNT}")
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()
    result.stdout.fnmatch_lines([
        "scenario shop (warm-standby) in us-east-1 + us-west-2: *",
        "  create in us-west-2:",
        (f"    cloudformation stack dr-warm-standby-dr (CreateStack from {stack}, then UpdateStack while Peer parameters "
         "change; 11 resources: Vpc (AWS::EC2::VPC), *HealthCheck (AWS::Route53::HealthCheck))"),
        "  create in us-east-1:",
        "    cloudformation stack dr-warm-standby-primary (*; 14 resources: *WwwPrimary (AWS::Route53::RecordSet))",
    ])
    assert all(c.split(".")[1].startswith(("Describe", "List", "Get")) for c in account), account
