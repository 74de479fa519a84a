"""SSM Automation on the clock: documents validated, steps executed as SSM executes them."""
from __future__ import annotations

import textwrap
from typing import Any

import botocore.exceptions
import pytest

from pytest_drtest.emulation.dynamodb import DynamoDbEmulator
from pytest_drtest.emulation.ssm import SsmEmulator
from tests.conftest import EmuEnv


@pytest.fixture
def ssm(emu_env: EmuEnv) -> tuple[EmuEnv, Any, SsmEmulator]:
    emulator = SsmEmulator(emu_env.emulation)
    emu_env.emulation.add(DynamoDbEmulator(emu_env.emulation))
    emu_env.emulation.add(emulator)
    return emu_env, emu_env.client("ssm"), emulator


def _doc(body: str) -> str:
    return "schemaVersion: '0.3'\n" + textwrap.dedent(body)


def _create(client: Any, name: str, body: str) -> None:
    client.create_document(Name=name, Content=_doc(body), DocumentType="Automation", DocumentFormat="YAML")


def _run(env: EmuEnv, client: Any, name: str, **params: list[str]) -> str:
    ident = client.start_automation_execution(DocumentName=name, Parameters=params)["AutomationExecutionId"]
    assert client.get_automation_execution(AutomationExecutionId=ident)["AutomationExecution"]["AutomationExecutionStatus"] == "Pending"
    return str(ident)


def _exe(client: Any, ident: str) -> dict[str, Any]:
    return dict(client.get_automation_execution(AutomationExecutionId=ident)["AutomationExecution"])


TABLE = """\
parameters:
  Table:
    type: String
  Wait:
    type: String
    default: PT2M
outputs:
  - Describe.Status
  - Script.Doubled
mainSteps:
  - name: Create
    action: aws:executeAwsApi
    inputs:
      Service: dynamodb
      Api: CreateTable
      TableName: '{{ Table }}'
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
  - name: Nap
    action: aws:sleep
    inputs:
      Duration: '{{ Wait }}'
  - name: Describe
    action: aws:executeAwsApi
    inputs:
      Service: dynamodb
      Api: DescribeTable
      TableName: '{{ Table }}'
    outputs:
      - Name: Status
        Selector: $.Table.TableStatus
        Type: String
  - name: IsActive
    action: aws:assertAwsResourceProperty
    inputs:
      Service: dynamodb
      Api: DescribeTable
      TableName: '{{ Table }}'
      PropertySelector: $.Table.TableStatus
      DesiredValues: [ACTIVE]
  - name: Choose
    action: aws:branch
    inputs:
      Choices:
        - NextStep: Script
          Variable: '{{ Describe.Status }}'
          StringEquals: ACTIVE
      Default: Never
  - name: Never
    action: aws:sleep
    inputs:
      Duration: PT1H
  - name: Script
    action: aws:executeScript
    inputs:
      Runtime: python3.11
      Handler: double
      InputPayload:
        Name: '{{ Table }}'
      Script: |-
        def double(events, context):
            return {'Doubled': events['Name'] * 2, 'Execution': context['automation:EXECUTION_ID']}
    outputs:
      - Name: Doubled
        Selector: $.Payload.Doubled
        Type: String
    isEnd: true
"""


def test_a_document_runs_its_steps_on_the_clock_and_reports_them_as_ssm_does(ssm: tuple[EmuEnv, Any, SsmEmulator]) -> None:
    env, client, _ = ssm
    _create(client, "make-table", TABLE)
    start = env.clock.now()
    ident = _run(env, client, "make-table", Table=["orders"])
    env.clock.sleep(60)
    exe = _exe(client, ident)
    assert (exe["AutomationExecutionStatus"], exe["CurrentStepName"]) == ("InProgress", "Nap")
    env.clock.sleep(60)
    exe = _exe(client, ident)
    assert exe["AutomationExecutionStatus"] == "Success"
    assert [(s["StepName"], s["StepStatus"]) for s in exe["StepExecutions"]] == [
        ("Create", "Success"), ("Nap", "Success"), ("Describe", "Success"), ("IsActive", "Success"), ("Choose", "Success"),
        ("Script", "Success"),
    ]  # the branch skipped Never
    assert exe["Outputs"] == {"Describe.Status": ["ACTIVE"], "Script.Doubled": ["ordersorders"]}
    nap = exe["StepExecutions"][1]
    assert (nap["ExecutionStartTime"], nap["ExecutionEndTime"]) == (env.clock.datetime(start), env.clock.datetime(start + 120))
    assert exe["StepExecutions"][0]["Inputs"]["TableName"] == "orders"
    assert env.client("dynamodb").describe_table(TableName="orders")["Table"]["TableStatus"] == "ACTIVE"


FAILING = """\
parameters:
  OnFailure:
    type: String
mainSteps:
  - name: Missing
    action: aws:executeAwsApi
    maxAttempts: 3
    onFailure: '{{ OnFailure }}'
    isCritical: false
    inputs:
      Service: dynamodb
      Api: DescribeTable
      TableName: nope
  - name: After
    action: aws:sleep
    inputs:
      Duration: PT1S
"""


def test_a_failed_step_is_retried_then_aborts_or_continues(ssm: tuple[EmuEnv, Any, SsmEmulator]) -> None:
    env, client, _ = ssm
    for on_failure, status, steps in (("Abort", "Failed", ["Missing"]), ("Continue", "Success", ["Missing", "After"])):
        body = FAILING.replace("'{{ OnFailure }}'", on_failure)
        _create(client, f"fails-{on_failure}", body)
        exe_id = client.start_automation_execution(DocumentName=f"fails-{on_failure}", Parameters={"OnFailure": [on_failure]})[
            "AutomationExecutionId"]
        env.clock.sleep(2)
        exe = _exe(client, exe_id)
        assert exe["AutomationExecutionStatus"] == status
        assert [s["StepName"] for s in exe["StepExecutions"]] == steps
        missing = exe["StepExecutions"][0]
        assert (missing["StepStatus"], missing["FailureDetails"]["Details"]["Attempts"]) == ("Failed", ["3"])
        assert "ResourceNotFoundException" in missing["FailureMessage"]
        if on_failure == "Abort":
            assert exe["FailureMessage"].startswith("Step Missing (aws:executeAwsApi) failed: An error occurred (ResourceNotFoundException)")


def test_a_step_that_outlasts_its_timeout_times_out(ssm: tuple[EmuEnv, Any, SsmEmulator]) -> None:
    env, client, _ = ssm
    _create(client, "slow", """\
        mainSteps:
          - name: Wait
            action: aws:sleep
            timeoutSeconds: 60
            inputs:
              Duration: PT5M
        """)
    ident = _run(env, client, "slow")
    env.clock.sleep(60)
    exe = _exe(client, ident)
    assert (exe["AutomationExecutionStatus"], exe["StepExecutions"][0]["StepStatus"]) == ("TimedOut", "TimedOut")


APPROVE = """\
mainSteps:
  - name: Approve
    action: aws:approve
    inputs:
      Approvers: [arn:aws:iam::123456789012:role/oncall]
      Message: fail over?
  - name: Done
    action: aws:sleep
    inputs:
      Duration: PT1S
"""


def test_approval_waits_for_the_on_call_approver_of_the_world(ssm: tuple[EmuEnv, Any, SsmEmulator]) -> None:
    env, client, _ = ssm
    env.profile.override("manual_approval_time", "7m", origin="test")
    _create(client, "approve", APPROVE)
    ident = _run(env, client, "approve")
    env.clock.sleep(7 * 60 - 1)
    exe = _exe(client, ident)
    assert (exe["AutomationExecutionStatus"], exe["StepExecutions"][0]["StepStatus"]) == ("Waiting", "Waiting")
    env.clock.sleep(2)
    exe = _exe(client, ident)
    assert exe["AutomationExecutionStatus"] == "Success"
    assert exe["StepExecutions"][0]["Outputs"]["ApprovalStatus"] == ["Approved"]


def test_approval_by_signal_reject_fails_and_stop_cancels(ssm: tuple[EmuEnv, Any, SsmEmulator]) -> None:
    env, client, emulator = ssm
    emulator.auto_approve = False
    _create(client, "approve", APPROVE)
    rejected, stopped = _run(env, client, "approve"), _run(env, client, "approve")
    env.clock.sleep(3600)
    client.send_automation_signal(AutomationExecutionId=rejected, SignalType="Reject")
    client.stop_automation_execution(AutomationExecutionId=stopped)
    assert _exe(client, stopped)["AutomationExecutionStatus"] == "Cancelling"
    env.clock.sleep(0)
    assert _exe(client, rejected)["AutomationExecutionStatus"] == "Failed"
    assert "rejected" in _exe(client, rejected)["StepExecutions"][0]["FailureMessage"]
    assert _exe(client, stopped)["AutomationExecutionStatus"] == "Cancelled"
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidAutomationSignalException"):
        client.send_automation_signal(AutomationExecutionId=rejected, SignalType="Approve")


@pytest.mark.parametrize(("body", "message"), [
    ("mainSteps:\n  - name: A\n    action: aws:runCommand\n    inputs: {}\n", "mainSteps[0].action: action 'aws:runCommand' is not modeled"),
    ("mainSteps:\n  - name: A\n    action: aws:sleep\n    inputs: {}\n", "mainSteps[0].inputs: aws:sleep takes exactly one of Duration and Timestamp"),
    ("mainSteps:\n  - name: A\n    action: aws:sleep\n    nextStep: B\n    inputs: {Duration: PT1S}\n",
     "mainSteps[0].nextStep: no step named 'B'"),
    ("mainSteps:\n  - name: A\n    action: aws:executeAwsApi\n    inputs: {Service: dynamodb, Api: DescribeTables}\n",
     "mainSteps[0].inputs.Api: dynamodb has no API 'DescribeTables'"),
    ("mainStep: []\n", "mainStep: unknown field"),
    ("mainSteps:\n  - name: A\n    action: aws:sleep\n    inputs: {Duration: PT1S}\noutputs: [A.Nothing]\n",
     "outputs[0]: 'A.Nothing' names no output of a step"),
])
def test_a_bad_document_is_refused_naming_the_path_and_not_stored(ssm: tuple[EmuEnv, Any, SsmEmulator], body: str, message: str) -> None:
    _, client, _ = ssm
    with pytest.raises(botocore.exceptions.ClientError) as info:
        _create(client, "bad", body)
    assert info.value.response["Error"]["Code"] == "InvalidDocumentContent"
    assert message in info.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError):
        client.describe_document(Name="bad")


def test_parameters_are_checked_against_the_document(ssm: tuple[EmuEnv, Any, SsmEmulator]) -> None:
    _, client, _ = ssm
    _create(client, "make-table", TABLE)
    for params, message in (({}, "Parameter 'Table' is required"), ({"Table": ["t"], "Tabel": ["t"]}, "Parameter 'Tabel' is not defined")):
        with pytest.raises(botocore.exceptions.ClientError, match=message) as info:
            client.start_automation_execution(DocumentName="make-table", Parameters=params)
        assert info.value.response["Error"]["Code"] == "InvalidAutomationExecutionParametersException"
    with pytest.raises(botocore.exceptions.ClientError, match="AutomationDefinitionNotFoundException"):
        client.start_automation_execution(DocumentName="nope")


def test_the_resilience_hub_pitr_sop_restores_a_new_table_and_reports_its_recovery_time(ssm: tuple[EmuEnv, Any, SsmEmulator]) -> None:
    env, client, _ = ssm
    ddb = env.client("dynamodb")
    ddb.create_table(TableName="orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    ddb.update_continuous_backups(TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    ddb.put_item(TableName="orders", Item={"pk": {"S": "kept"}})
    env.clock.sleep(600)
    point = env.clock.datetime().replace(microsecond=0)
    env.clock.sleep(1)
    ddb.put_item(TableName="orders", Item={"pk": {"S": "after"}})
    env.clock.sleep(600)
    sop = "AWSResilienceHub-RestoreDynamoDBTableToPointInTimeSOP_2020-04-01"
    ident = client.start_automation_execution(DocumentName=sop, Parameters={
        "DynamoDBTableSourceName": ["orders"], "DynamoDBTableTargetName": ["orders-restored"],
        "RecoveryPointDateTime": [point.strftime("%Y-%m-%dT%H:%M:%SZ")], "AutomationAssumeRole": ["arn:aws:iam::123456789012:role/ssm"]})[
        "AutomationExecutionId"]
    started = env.clock.now()
    env.clock.sleep(env.profile.figures["dynamodb_restore_time"].high + env.profile.value("automation_poll_interval"))
    exe = _exe(client, ident)
    assert exe["AutomationExecutionStatus"] == "Success", exe.get("FailureMessage")
    assert [s["StepName"] for s in exe["StepExecutions"]] == [
        "RecordStartTime", "VerifyPointInTimeRecoveryEnabled", "ChooseRecoveryPoint", "RestoreToPointInTime", "WaitTableToBeActive",
        "GetTargetTable", "CheckIfCopyAllProperties", "CopyPointInTimeRecovery", "OutputRecoveryTime"]
    items = {i["pk"]["S"] for i in ddb.scan(TableName="orders-restored")["Items"]}
    assert items == {"kept"}
    wait = exe["StepExecutions"][4]
    active = env.clock.seconds_at(wait["ExecutionEndTime"])
    assert exe["Outputs"]["OutputRecoveryTime.RecoveryTime"] == [str(int(active - started))]
