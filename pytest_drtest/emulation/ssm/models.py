"""SSM Automation: statuses, the parsed document, an execution and its steps.

Statuses are [BC:ssm] ``AutomationExecutionStatus``; fields those of ``AutomationExecution`` and
``StepExecution``; a document is the Automation schema 0.3 ([SSM-UG:documents-schemas-features],
[SSM-UG:automation-actions]).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PENDING, IN_PROGRESS, WAITING, SUCCESS = "Pending", "InProgress", "Waiting", "Success"
TIMED_OUT, CANCELLING, CANCELLED, FAILED = "TimedOut", "Cancelling", "Cancelled", "Failed"
EXECUTION_DONE = (SUCCESS, TIMED_OUT, CANCELLED, FAILED)

#: The actions the emulation runs, and their inputs: (required, optional). Other inputs of
#: ``aws:executeAwsApi``, ``aws:waitForAwsResourceProperty`` and ``aws:assertAwsResourceProperty``
#: are the API's own parameters. [SSM-UG:automation-actions]
ACTION_INPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "aws:executeAwsApi": (("Service", "Api"), ()),
    "aws:waitForAwsResourceProperty": (("Service", "Api", "PropertySelector", "DesiredValues"), ()),
    "aws:assertAwsResourceProperty": (("Service", "Api", "PropertySelector", "DesiredValues"), ()),
    "aws:sleep": ((), ("Duration", "Timestamp")),
    "aws:branch": (("Choices",), ("Default",)),
    "aws:executeScript": (("Runtime", "Handler", "Script"), ("InputPayload", "Attachment")),
    "aws:approve": (("Approvers",), ("Message", "MinRequiredApprovals", "NotificationArn")),
}
API_ACTIONS = ("aws:executeAwsApi", "aws:waitForAwsResourceProperty", "aws:assertAwsResourceProperty")
PARAMETER_TYPES = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")
OUTPUT_TYPES = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")
STEP_FIELDS = ("name", "action", "inputs", "description", "onFailure", "onCancel", "isEnd", "isCritical",
               "nextStep", "maxAttempts", "timeoutSeconds", "outputs")
DOCUMENT_FIELDS = ("schemaVersion", "description", "assumeRole", "parameters", "mainSteps", "outputs", "files")
PARAMETER_FIELDS = ("type", "description", "default", "allowedValues", "allowedPattern", "minItems", "maxItems",
                    "minChars", "maxChars", "displayType")
SCRIPT_RUNTIMES = ("python3.8", "python3.9", "python3.10", "python3.11")


@dataclass(frozen=True)
class Step:
    name: str
    action: str
    inputs: dict[str, Any]
    on_failure: str = "Abort"  # Abort | Continue | step:<name>
    is_end: bool = False
    is_critical: bool = True
    next_step: str | None = None
    max_attempts: int = 1
    timeout: float | None = None
    outputs: tuple[dict[str, str], ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Document:
    """A parsed Automation document."""

    name: str
    description: str
    parameters: dict[str, dict[str, Any]]
    steps: tuple[Step, ...]
    outputs: tuple[str, ...]
    source: str = ""

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def index(self, name: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s.name == name)


@dataclass
class StepRun:
    """One step as it ran (one row of ``StepExecutions``)."""

    step: Step
    id: str
    status: str = PENDING
    start: float | None = None
    end: float | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None
    failure_type: str | None = None  # Verification | Unexpected... ([BC:ssm] FailureDetails.FailureType)
    attempts: int = 0
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (service, operation, params) made


@dataclass
class Execution:
    """An automation execution of ``document`` in ``region``."""

    id: str
    region: str
    document: Document
    parameters: dict[str, Any]  # typed values after defaults
    raw_parameters: dict[str, list[str]]
    start: float
    status: str = PENDING
    end: float | None = None
    steps: list[StepRun] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # "Step.Output" -> value
    failure: str | None = None
    current: int = 0  # index of the step running or next
    timer: Any = None
    waiting: Any = None  # what the current step waits on (an approval's handle)
    finished: list[Any] = field(default_factory=list)  # callbacks(status, message)
    failed_critical: bool = False

    @property
    def done(self) -> bool:
        return self.status in EXECUTION_DONE
