"""moto in-process (the default) and a moto server on 127.0.0.1."""
from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import requests

from pytest_drtest.backends.base import Backend, check_loopback, patched_environ

_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


class MotoBackend(Backend):
    """moto's ``mock_aws`` in this process: no server, no credentials, no network.

    Every test gets a fresh ``mock_aws``; stopping it drops everything it held.
    """

    name = "moto"
    emulated = True

    def __init__(self) -> None:
        self._stack: ExitStack | None = None

    def start(self) -> None:
        from moto import mock_aws

        stack = ExitStack()
        stack.enter_context(patched_environ(_ENV))
        stack.enter_context(mock_aws(config={"core": {"reset_boto3_session": True}}))
        self._stack = stack

    def stop(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()


class MotoServerBackend(Backend):
    """A moto server over HTTP: started here on 127.0.0.1 (or an endpoint given), reset per test."""

    name = "moto-server"
    emulated = True

    def __init__(self, endpoint: str | None = None) -> None:
        self._given = endpoint
        self._server: Any = None
        self._env: ExitStack | None = None

    def start(self) -> None:
        stack = ExitStack()
        stack.enter_context(patched_environ(_ENV))
        if self._given:
            self.endpoint_url = check_loopback(self._given, "moto-server")
        else:
            import logging

            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.endpoint_url = f"http://{host}:{port}"
        # plain boto3.client(...) calls in users' code go to the server too (botocore >= 1.31)
        stack.enter_context(patched_environ({"AWS_ENDPOINT_URL": self.endpoint_url}))
        self._env = stack
        self._reset()

    def _reset(self) -> None:
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=30).raise_for_status()

    def stop(self) -> None:
        try:
            if self.endpoint_url:
                self._reset()
        finally:
            if self._server is not None:
                self._server.stop()
                self._server = None
            if self._env is not None:
                self._env.close()
                self._env = None

    def describe(self) -> str:
        return f"moto-server ({self.endpoint_url or self._given or 'not started'})"
