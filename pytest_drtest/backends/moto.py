"""moto in-process (the default) and a moto server on 127.0.0.1."""
from __future__ import annotations

from contextlib import ExitStack

from pytest_drtest.backends.base import Backend, patched_environ

_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


def _speed_up_moto() -> None:
    """Process-wide caches of two pure functions moto calls on every request or model load.

    ``method_names_from_class`` lists a responses class's methods with ``inspect.getmembers`` on
    every call (one per request, the largest cost of a small one); a class's methods do not change.
    ``create_loader`` builds a new botocore loader (re-listing and re-reading every model) for each
    service model moto loads; one loader, with its cache, serves them all. Idempotent."""
    import functools

    from moto.core import loaders, responses, utils

    if not hasattr(getattr(responses, "method_names_from_class"), "cache_info"):  # noqa: B009 - not re-exported
        setattr(responses, "method_names_from_class", functools.cache(utils.method_names_from_class))  # noqa: B010
    if not hasattr(getattr(utils, "create_loader"), "cache_info"):  # noqa: B009
        setattr(utils, "create_loader", functools.cache(loaders.create_loader))  # noqa: B010


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

        _speed_up_moto()
        stack = ExitStack()
        stack.enter_context(patched_environ(_ENV))
        stack.enter_context(mock_aws(config={"core": {"reset_boto3_session": True}}))
        self._stack = stack

    def stop(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()


class MotoServerBackend(MotoBackend):
    """The emulated world served on 127.0.0.0/8: moto in this process behind a gateway per region.

    Any process (the AWS CLI, a Node.js SDK, the team's service) reaches a region of the world at
    its own loopback address; requests meet the same emulation as in-process calls (see
    :mod:`pytest_drtest.gateway`). Calls made inside the test keep going in-process.
    """

    name = "moto-server"
    serves_network = True

    def describe(self) -> str:
        return "moto-server (the emulated world on 127.0.0.0/8)"
