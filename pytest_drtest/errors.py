"""Exceptions raised by pytest-drtest."""
from __future__ import annotations


class DrError(Exception):
    """Base class of every error raised by pytest-drtest."""


class DrConfigError(DrError):
    """A scenario file, blueprint, profile or argument is invalid.

    The message names the source (file or option), the field and what was expected.
    """

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None) -> None:
        self.source = source
        self.field = field
        parts = []
        if source:
            parts.append(str(source))
        if field:
            parts.append(f"field {field!r}")
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ObjectiveMissed(AssertionError, DrError):
    """A measured RTO or RPO exceeds its objective; the message tells the story."""


class BackendRefused(DrError):
    """The backend refuses to run (e.g. the aws backend without an account allowlist)."""
