"""LocalStack community for the services it has, moto in this process for the others.

LocalStack community answers DynamoDB, S3, Route 53, EC2, STS, IAM, CloudWatch, SNS/SQS, Secrets
Manager, SSM, KMS and CloudFormation; ELBv2, Auto Scaling, RDS and AWS Backup are Pro-only there.
The backend routes each service on its own (:meth:`LocalStackBackend.placement`):

* a service goes to LocalStack when it is in the wanted set (:data:`DEFAULT_SERVICES`, or
  ``$DRTEST_LOCALSTACK_SERVICES``) **and** LocalStack's ``/_localstack/health`` reports it
  ``available`` or ``running``;
* EC2 goes there only together with ELBv2, Auto Scaling and RDS (:data:`COUPLED`): their load
  balancers, groups and DB subnet groups name its VPCs, subnets and launch templates, which must
  live in the same world; CloudFormation only together with EC2, ELBv2 and Auto Scaling, whose
  resources its stacks create;
* every other service is answered by moto's ``mock_aws`` in this process, entered for the test as
  on the ``moto`` backend. ``mock_aws`` only answers requests to AWS's own host names, so the
  requests sent to LocalStack's endpoint pass through it untouched.

The emulation layer is installed on the users' sessions either way, and its backdoor clients follow
the same routing. Both worlds see the account ``123456789012``: LocalStack takes a 12-digit access
key id as the account id, and it is moto's default account.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

from pytest_drtest.backends.base import (
    CLIENT_CONFIG,
    SERVICES,
    Backend,
    ClientFactory,
    check_loopback,
    new_boto3_session,
    patched_environ,
)
from pytest_drtest.errors import DrConfigError

#: Services sent to LocalStack when it reports them available (botocore names).
DEFAULT_SERVICES = (
    "cloudformation", "cloudwatch", "dynamodb", "dynamodbstreams", "ec2", "iam", "kms", "route53", "s3",
    "secretsmanager", "sns", "sqs", "ssm", "sts",
)
#: A service that goes to LocalStack only if all the services that reference its resources do; a
#: CloudFormation stack's resources (a VPC, a target group, a launch template) must live in the
#: world of the services that use them.
COUPLED: dict[str, tuple[str, ...]] = {"ec2": ("autoscaling", "elbv2", "rds"), "cloudformation": ("ec2", "elbv2", "autoscaling")}
#: ``/_localstack/health`` states of a service that answers.
READY_STATES = ("available", "running")
#: Environment variable replacing :data:`DEFAULT_SERVICES` (comma-separated botocore names).
SERVICES_ENV = "DRTEST_LOCALSTACK_SERVICES"
#: The account of both worlds (moto's default; LocalStack: a 12-digit access key id is the account).
ACCOUNT = "123456789012"
CREDENTIALS = {"aws_access_key_id": ACCOUNT, "aws_secret_access_key": "testing", "aws_session_token": "testing"}

_ENV = {
    "AWS_ACCESS_KEY_ID": ACCOUNT,
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


def wanted_services(value: str | None = None) -> tuple[str, ...]:
    """The services to send to LocalStack: ``value`` (comma-separated), else ``$DRTEST_LOCALSTACK_SERVICES``,
    else :data:`DEFAULT_SERVICES`."""
    if value is None:
        value = os.environ.get(SERVICES_ENV)
    if value is None or not value.strip():
        return DEFAULT_SERVICES
    return tuple(dict.fromkeys(s.strip().lower() for s in value.split(",") if s.strip()))


def route(wanted: Iterable[str], health: dict[str, str]) -> dict[str, str]:
    """``service -> "localstack" | "moto"`` for the harness's services and the wanted ones."""
    wanted = tuple(wanted)
    ready = {name for name, state in health.items() if state in READY_STATES}
    there = {service for service in wanted if service in ready}
    changed = True
    while changed:  # until no coupled service loses a partner (one may depend on another)
        changed = False
        for service, partners in COUPLED.items():
            if service in there and not all(p in there for p in partners):
                there.discard(service)
                changed = True
    return {service: "localstack" if service in there else "moto" for service in sorted({*SERVICES, *wanted})}


def endpoint_variable(service: str) -> str:
    """botocore's per-service endpoint variable (``AWS_ENDPOINT_URL_<SERVICE ID>``) of ``service``."""
    from pytest_drtest.backends.base import _SHARED_LOADER

    model = _SHARED_LOADER.load_service_model(service, "service-2")
    service_id = str(model["metadata"].get("serviceId") or service)
    return "AWS_ENDPOINT_URL_" + service_id.upper().replace(" ", "_").replace("-", "_")


class LocalStackBackend(Backend):
    """LocalStack at ``--dr-endpoint`` (default ``$LOCALSTACK_HOST`` or 127.0.0.1:4566) plus moto in process.

    ``start()`` asks LocalStack's health endpoint which services answer, routes each service (see
    the module's docstring) and enters moto's ``mock_aws`` for the others. LocalStack has no
    state reset: the harness deletes what the topology created at teardown, and the server keeps
    running. While a test runs, plain ``boto3.client(...)`` calls and child processes find
    LocalStack's services through botocore's ``AWS_ENDPOINT_URL_<SERVICE>`` variables.
    """

    name = "localstack"
    emulated = True

    def __init__(self, endpoint: str | None = None, services: Iterable[str] | str | None = None) -> None:
        host = os.environ.get("LOCALSTACK_HOST", "127.0.0.1:4566")
        self.endpoint_url: str = check_loopback(endpoint or f"http://{host}", "localstack")
        self.wanted = wanted_services(services) if services is None or isinstance(services, str) else tuple(services)
        self._placement: dict[str, str] | None = None
        self._stack: ExitStack | None = None
        self.unreachable: str | None = None
        self._tearing_down = False

    # -- where each service runs -----------------------------------------------------------------
    def health(self, timeout: float = 5.0) -> dict[str, str]:
        """``service -> state`` as ``GET /_localstack/health`` reports it."""
        try:
            with requests.Session() as http:
                http.trust_env = False  # a loopback address: never through a proxy of the environment
                response = http.get(f"{self.endpoint_url}/_localstack/health", timeout=timeout)
            response.raise_for_status()
            services = response.json().get("services") or {}
        except (requests.RequestException, ValueError) as exc:
            raise DrConfigError(
                f"LocalStack is not answering at {self.endpoint_url} ({exc.__class__.__name__}); "
                "start it first (docs/backends.md) or pass --dr-endpoint"
            ) from None
        return {str(name): str(state) for name, state in services.items()}

    def placement(self) -> dict[str, str]:
        """``service -> "localstack" | "moto"``, from LocalStack's health endpoint (asked once per test,
        at ``start()``); ``{}`` when LocalStack does not answer (:attr:`unreachable` says why)."""
        if self._placement is None:
            try:
                self._placement = route(self.wanted, self.health())
            except DrConfigError as exc:
                self.unreachable = str(exc)
                return {}
        return dict(self._placement)

    def on_localstack(self) -> list[str]:
        """The services sent to LocalStack."""
        return [service for service, where in self.placement().items() if where == "localstack"]

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._placement = route(self.wanted, self.health())  # DrConfigError when LocalStack does not answer
        local = self.on_localstack()
        from moto import mock_aws

        env = dict(_ENV)
        env.update({endpoint_variable(service): self.endpoint_url for service in local})
        stack = ExitStack()
        stack.enter_context(patched_environ(env))
        stack.enter_context(mock_aws(config={"core": {"reset_boto3_session": True}}))
        self._stack = stack

    def stop(self) -> None:
        """Leave moto (dropping what it held); LocalStack keeps running, emptied by the topology's teardown."""
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()

    def new_session(self) -> boto3.Session:
        session = new_boto3_session(**CREDENTIALS)
        session.events.register_first("before-call", self._skip_moto_in_teardown, unique_id=f"drtest-teardown-{id(self)}")
        return session

    def clean_up(self, cleanup: Any) -> list[str]:
        """Delete what the topology created on LocalStack (it has no reset). A deleter that calls one of
        moto's services stops there, not counted as a failure: leaving ``mock_aws`` drops all of that,
        as on the ``moto`` backend (and some of moto's deletes fail, e.g. a cross-region Aurora member)."""
        self._tearing_down = True
        try:
            return [failure for failure in cleanup.run() if _SkippedOnMoto.MARK not in failure]
        finally:
            self._tearing_down = False

    def _skip_moto_in_teardown(self, model: Any, **_: Any) -> None:
        if self._tearing_down and self.placement().get(model.service_model.service_name) != "localstack":
            raise _SkippedOnMoto(model.service_model.service_name, model.name)

    def factory(self, session: boto3.Session) -> ClientFactory:
        routes: dict[str, Any] = {service: self.endpoint_url for service in self.on_localstack()}
        return ClientFactory(session, None, routes=routes, moto_in_process=True)

    def describe(self) -> str:
        return f"localstack ({self.endpoint_url}) + moto in process"


# -- a LocalStack process of our own -----------------------------------------------------------------
#: Where a prepared LocalStack lives (``.ci/run`` prepares ``.ci/.localstack``).
HOME_ENV = "DRTEST_LOCALSTACK_HOME"
#: LocalStack's settings to run without Docker, offline (docs/backends.md#localstack).
SERVER_ENV = {
    "OVERRIDE_IN_DOCKER": "0",  # a /.dockerenv on the machine must not make it think it is its own image
    "DISABLE_EVENTS": "1",
    "SKIP_SSL_CERT_DOWNLOAD": "1",
    "DNS_ADDRESS": "0",
    "SQS_ENDPOINT_STRATEGY": "path",
    "DYNAMODB_IN_MEMORY": "1",
    # DynamoDB Streams from DynamoDB Local itself: the default provider forwards every write to a
    # Kinesis mock (a Node.js server it installs from npm at first use), and re-creating a table
    # within ~0.5 s of deleting it fails there (its stream is still being deleted)
    "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "v2",
}


class LocalStackServer:
    """LocalStack community started from a prepared folder ``home`` (``.ci/run`` prepares one):

    * ``home/venv``: a Python >= 3.13 virtualenv with ``localstack-core[runtime]`` (pinned);
    * ``home/lib``: what LocalStack expects in ``var/lib/localstack/lib``: DynamoDB Local in
      ``dynamodb-local/2`` (with a ``ddb-local-loader-0.1.jar`` agent), ``java/21`` -> a JDK >= 17;
    * ``home/prepared``: written last by the preparation.

    Each start gets its own ``FILESYSTEM_ROOT`` (a temporary folder whose ``var/lib/localstack/lib``
    links to ``home/lib``) and a free port on 127.0.0.1, so the state is empty and concurrent runs
    do not meet. :meth:`stop` ends the process group it started (LocalStack and DynamoDB Local).
    """

    def __init__(self, home: str | os.PathLike[str], *, port: int | None = None) -> None:
        self.home = Path(home)
        self.port = port
        self.endpoint = ""
        self.root: Path | None = None
        self.process: Any = None
        self.startup_s: float | None = None  # start to "Ready."
        self.dynamodb_s: float | None = None  # first DynamoDB answer (DynamoDB Local's JVM start)

    @staticmethod
    def missing(home: str | os.PathLike[str]) -> str | None:
        """What ``home`` lacks to start LocalStack, or None when it is prepared."""
        home = Path(home)
        needed = {
            "prepared": "the preparation's stamp",
            "venv/bin/python": "the virtualenv with localstack-core",
            "lib/dynamodb-local/2/DynamoDBLocal.jar": "DynamoDB Local",
            "lib/dynamodb-local/2/ddb-local-loader-0.1.jar": "the DynamoDB Local agent jar",
            "lib/java/21/bin/java": "a JDK >= 17",
        }
        for path, what in needed.items():
            if not (home / path).exists():
                return f"{home / path} is missing ({what}); bash .ci/run prepares {home}"
        return None

    @property
    def log(self) -> str:
        """LocalStack's output so far."""
        if self.root is None or not (self.root / "localstack.log").exists():
            return ""
        return (self.root / "localstack.log").read_text(encoding="utf-8", errors="replace")

    def start(self, timeout: float = 180.0) -> str:
        """Start LocalStack and wait for its ``Ready.`` line; return its endpoint URL."""
        problem = self.missing(self.home)
        if problem:
            raise DrConfigError(f"LocalStack cannot start: {problem}")
        self.port = self.port or _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.root = Path(tempfile.mkdtemp(prefix="drtest-localstack-"))
        (self.root / "var/lib/localstack").mkdir(parents=True)
        (self.root / "var/lib/localstack/lib").symlink_to((self.home / "lib").resolve())
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "MOTO_", "LOCALSTACK_", "DRTEST_")) and not k.upper().endswith("_PROXY")}
        env.update(SERVER_ENV)
        env.update({
            "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
            "LOCALSTACK_HOST": f"127.0.0.1:{self.port}",
            "FILESYSTEM_ROOT": str(self.root),
        })
        began = time.perf_counter()
        with open(self.root / "localstack.log", "wb") as log:
            self.process = subprocess.Popen(
                [str(self.home / "venv/bin/python"), "-m", "localstack.runtime.main"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root,
                start_new_session=True,
            )
        deadline = began + timeout
        while True:
            if any(line.strip() == "Ready." for line in self.log.splitlines()):
                break
            if self.process.poll() is not None or time.perf_counter() > deadline:
                why = f"exited with {self.process.returncode}" if self.process.poll() is not None else f"not ready after {timeout:g} s"
                tail = "\n".join(self.log.splitlines()[-20:])
                self.stop()
                raise DrConfigError(f"LocalStack {why}; its last lines:\n{tail}")
            time.sleep(0.1)
        self.startup_s = time.perf_counter() - began
        return self.endpoint

    def warm_up(self) -> float:
        """Ask DynamoDB once (LocalStack starts DynamoDB Local's JVM then); return the seconds it took."""
        client = new_boto3_session(**CREDENTIALS).client(
            "dynamodb", region_name="us-east-1", endpoint_url=self.endpoint,
            # proxies={}: a loopback endpoint, never through the environment's proxy (this runs in a
            # thread while other code may have set one)
            config=CLIENT_CONFIG.merge(Config(read_timeout=120, retries={"max_attempts": 1}, proxies={})),
        )
        began = time.perf_counter()
        client.list_tables()
        self.dynamodb_s = time.perf_counter() - began
        return self.dynamodb_s

    def stop(self) -> None:
        """End LocalStack's process group (DynamoDB Local with it), then remove its root folder."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            # its state is thrown away: a short grace (a full shutdown takes ~7 s), then SIGKILL
            for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if process is not None:
            try:  # children that outlived LocalStack (its group id is its pid)
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


class _SkippedOnMoto(Exception):
    """Raised at teardown by a call to a service that moto answers: nothing to delete there."""

    MARK = "(skipped: moto's state is dropped with mock_aws)"

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(f"{service}.{operation} {self.MARK}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
