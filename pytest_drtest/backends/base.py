"""The Backend protocol and the client factory shared by users, probes and the emulation."""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from pytest_drtest.errors import DrConfigError

#: Fake credentials for emulators; never valid on AWS.
EMULATOR_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}

CLIENT_CONFIG = Config(
    retries={"max_attempts": 2, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
    account_id_endpoint_mode="disabled",
)


#: The AWS services (botocore names) that the topologies, runbooks, probes and emulators call.
SERVICES = (
    "autoscaling", "backup", "cloudwatch", "dynamodb", "dynamodbstreams", "ec2", "elbv2", "iam", "rds",
    "rds-data", "route53", "s3", "secretsmanager", "sts",
)


#: botocore's service models are static data; one loader (with its cache) for every session of
#: the process spares re-reading ~50 JSON models per session (the largest cost of a harness).
_SHARED_LOADER = botocore.loaders.create_loader()


def new_boto3_session(**credentials: str) -> boto3.Session:
    """A boto3 session whose botocore session reuses the process-wide model loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _SHARED_LOADER)
    return boto3.Session(botocore_session=core, **credentials)


class ClientFactory:
    """Clients of one boto3 session, cached per (service, region); creating clients is the slow part.

    Where a client points is decided per service: ``routes`` maps a botocore service name to its
    endpoint URL (``None``: the service's AWS endpoint, which moto's ``mock_aws`` answers in
    process); a service not in ``routes`` goes to ``endpoint_url``. ``moto_in_process`` says that
    the AWS endpoints are answered by moto's ``mock_aws`` in this process (the emulated backends),
    not by AWS.
    """

    def __init__(
        self, session: boto3.Session, endpoint_url: str | None = None, *, routes: Mapping[str, str | None] | None = None,
        moto_in_process: bool = False,
    ) -> None:
        self.session = session
        self.endpoint_url = endpoint_url
        self.routes: dict[str, str | None] = dict(routes or {})
        self.moto_in_process = moto_in_process
        self._clients: dict[tuple[str, str], Any] = {}

    def endpoint_for(self, service: str) -> str | None:
        """The endpoint URL clients of ``service`` are given (``None``: botocore's default)."""
        return self.routes.get(service, self.endpoint_url)

    def in_process(self, service: str) -> bool:
        """Whether ``service`` is answered by moto's models in this process (so an emulator may
        change them directly instead of through a request)."""
        return self.moto_in_process and self.endpoint_for(service) is None

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            kwargs: dict[str, Any] = {"region_name": region, "config": CLIENT_CONFIG}
            endpoint = self.endpoint_for(service)
            if endpoint:
                kwargs["endpoint_url"] = endpoint
            self._clients[key] = self.session.client(service, **kwargs)
        return self._clients[key]


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them exactly."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def check_loopback(url: str, backend: str) -> str:
    """``url`` without a trailing slash, if it names 127.0.0.1 or localhost; else a clear error."""
    from urllib.parse import urlparse

    host = urlparse(url).hostname or ""
    if not (host == "localhost" or host.startswith("127.")):
        raise DrConfigError(f"--dr-endpoint {url!r}: the {backend} backend must listen on 127.0.0.1 or localhost")
    return url.rstrip("/")


class Backend:
    """What answers the AWS calls of one test.

    ``start()`` and ``stop()`` bracket a test; nothing created in between outlives ``stop()``.
    """

    name: str = ""
    emulated: bool = True
    serves_network: bool = False  # the harness serves the emulated world on 127.0.0.0/8
    endpoint_url: str | None = None

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def new_session(self) -> boto3.Session:
        """A fresh boto3 session for this backend (users' and the backdoor's are distinct)."""
        return new_boto3_session(**EMULATOR_CREDENTIALS) if self.emulated else new_boto3_session()

    def factory(self, session: boto3.Session) -> ClientFactory:
        return ClientFactory(session, self.endpoint_url, moto_in_process=self.emulated)

    def describe(self) -> str:
        return self.name

    def clean_up(self, cleanup: Any) -> list[str]:
        """Run the topology's deleters at teardown (backends that keep state); return the failures."""
        return list(cleanup.run())

    def placement(self) -> dict[str, str]:
        """Where each AWS service the harness uses is answered (service -> what answers it)."""
        return {service: self.name for service in SERVICES}


def format_placement(placement: Mapping[str, str]) -> str:
    """``localstack: dynamodb s3; moto: elbv2 rds`` (what answers, then its services)."""
    where: dict[str, list[str]] = {}
    for service, backend in sorted(placement.items()):
        where.setdefault(backend, []).append(service)
    return "; ".join(f"{backend}: {' '.join(services)}" for backend, services in sorted(where.items()))


def make_backend(name: str, options: Mapping[str, Any]) -> Backend:
    """Build the backend called ``name`` from the run's options."""
    if name == "moto":
        from pytest_drtest.backends.moto import MotoBackend

        return MotoBackend()
    if name == "moto-server":
        from pytest_drtest.backends.moto import MotoServerBackend

        if options.get("endpoint"):
            raise DrConfigError(
                "--dr-endpoint does not apply to moto-server: the emulated world is served by the run itself, "
                "a gateway per region on 127.0.0.0/8 (see docs/backends.md); --dr-endpoint is for localstack"
            )
        return MotoServerBackend()
    if name == "localstack":
        from pytest_drtest.backends.localstack import LocalStackBackend

        return LocalStackBackend(options.get("endpoint"))
    if name == "aws":
        from pytest_drtest.backends.aws import AwsBackend

        return AwsBackend(allowlist=options.get("aws_accounts") or (), fis_role=options.get("aws_fis_role"))
    raise DrConfigError(f"unknown backend {name!r}; expected one of: moto, moto-server, localstack, aws")
