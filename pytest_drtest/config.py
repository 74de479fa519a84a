"""Reading TOML files (scenarios, blueprints) with errors that name the file, field and expectation."""
from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_drtest.errors import DrConfigError

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "a table", list: "a list"}


def import_callable(ref: str, *, what: str, source: str, field: str) -> Callable[..., Any]:
    """The callable a ``"module:function"`` reference names (``what``: how errors call it, e.g. ``"runbook "``)."""
    module, _, name = ref.partition(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise DrConfigError(f"cannot import {what}{ref!r}: {exc}", source=source, field=field) from None
    if not callable(fn):
        raise DrConfigError(f"{what}{ref!r} is not callable", source=source, field=field)
    return fn  # type: ignore[no-any-return]


def load_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DrConfigError("file not found", source=str(path)) from None
    except OSError as exc:
        raise DrConfigError(f"cannot be read: {exc.strerror}", source=str(path)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DrConfigError(f"not valid TOML: {exc}", source=str(path)) from None


class Fields:
    """Typed access to one TOML table; every error names the file and the dotted field."""

    def __init__(self, data: Any, source: str, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise DrConfigError("expected a table", source=source, field=prefix or None)
        self.data = data
        self.source = source
        self.prefix = prefix
        self._seen: set[str] = set()

    def _name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, choices: tuple[Any, ...] | None = None) -> Any:
        self._seen.add(key)
        if key not in self.data:
            if default is ...:
                raise DrConfigError(f"is required ({self._expect(kind)})", source=self.source, field=self._name(key))
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise DrConfigError(f"expected {self._expect(kind)}, got {value!r}", source=self.source, field=self._name(key))
        if choices is not None and value not in choices:
            raise DrConfigError(
                f"expected one of {', '.join(map(str, choices))}, got {value!r}", source=self.source, field=self._name(key)
            )
        return value

    def table(self, key: str, *, required: bool = False) -> Fields:
        value = self.get(key, dict, ... if required else {})
        return Fields(value, self.source, self._name(key))

    def tables(self, key: str) -> list[Fields]:
        items = self.get(key, list, [])
        return [Fields(item, self.source, f"{self._name(key)}[{i}]") for i, item in enumerate(items)]

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.data) - self._seen)
        if unknown:
            known = ", ".join(sorted(self._seen))
            raise DrConfigError(
                f"unknown field(s) {', '.join(unknown)}; expected: {known}", source=self.source, field=self.prefix or None
            )

    @staticmethod
    def _expect(kind: type | tuple[type, ...]) -> str:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        return " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
