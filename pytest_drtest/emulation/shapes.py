"""Checking a document against a botocore input shape: unknown fields, missing required ones, wrong
types and enum values, each reported with its path (``actions.Stop.targets``).

Used for what teams write in AWS's own formats (FIS experiment templates, ARC Region switch plans),
so that a typo names the field and what was expected instead of being silently ignored. The
shapes are botocore's service models ([BC:fis], [BC:arc-region-switch]).
"""
from __future__ import annotations

import datetime as _dt
import functools
import re
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape

from pytest_drtest.backends.base import _SHARED_LOADER


class ShapeError(ValueError):
    """A document does not fit its shape: ``path`` inside it, and what was expected there."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@functools.cache
def input_shape(service: str, operation: str) -> StructureShape:
    """The input shape of ``operation`` in botocore's model of ``service``."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _SHARED_LOADER)
    model = session.get_service_model(service)
    shape = model.operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def member_shape(shape: StructureShape, *path: str) -> Shape:
    """The shape at ``path`` (member names; ``[]`` steps into a list or map value)."""
    current: Shape = shape
    for step in path:
        if step == "[]":
            current = current.member if isinstance(current, ListShape) else current.value
        else:
            assert isinstance(current, StructureShape)
            current = current.members[step]
    return current


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check(value: Any, shape: Shape, path: str = "", *, skip: frozenset[str] = frozenset(), templated: bool = False) -> None:
    """Raise :class:`ShapeError` at the first place ``value`` does not fit ``shape``.

    ``skip``: member names not checked (at any depth), e.g. a client token the caller adds.
    ``templated``: a string holding a ``${...}`` placeholder (filled in later) is not held to the
    member's pattern, length or enum.
    """
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise ShapeError(path, f"expected an object with {', '.join(shape.members)}, got {_show(value)}")
        unknown = sorted(set(value) - set(shape.members))
        if unknown:
            raise ShapeError(_join(path, unknown[0]), f"unknown field; expected one of: {', '.join(shape.members)}")
        for name in shape.required_members:
            if name not in value and name not in skip:
                raise ShapeError(_join(path, name), "is required")
        for name, item in value.items():
            if name not in skip:
                check(item, shape.members[name], _join(path, name), skip=skip, templated=templated)
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise ShapeError(path, f"expected a list, got {_show(value)}")
        _bounds(len(value), shape, path, "items")
        for i, item in enumerate(value):
            check(item, shape.member, f"{path}[{i}]", skip=skip, templated=templated)
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise ShapeError(path, f"expected an object (a map), got {_show(value)}")
        _bounds(len(value), shape, path, "entries")
        for key, item in value.items():
            check(key, shape.key, f"{path} key {key!r}", skip=skip, templated=templated)
            check(item, shape.value, _join(path, str(key)), skip=skip, templated=templated)
    elif kind == "string":
        if not isinstance(value, str):
            raise ShapeError(path, f"expected a string, got {_show(value)}")
        if templated and "${" in value:
            return
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            raise ShapeError(path, f"expected one of: {', '.join(enum)}; got {value!r}")
        _bounds(len(value), shape, path, "characters")
        pattern = shape.metadata.get("pattern")
        if pattern and not _matches(pattern, value):
            raise ShapeError(path, f"{value!r} does not match the pattern {pattern}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ShapeError(path, f"expected an integer, got {_show(value)}")
        _bounds(value, shape, path, "")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ShapeError(path, f"expected a number, got {_show(value)}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise ShapeError(path, f"expected true or false, got {_show(value)}")
    elif kind == "timestamp" and not isinstance(value, (str, _dt.datetime)):
        raise ShapeError(path, f"expected a timestamp, got {_show(value)}")


def _matches(pattern: str, value: str) -> bool:
    """A Smithy pattern is not anchored (it matches anywhere in the value); one Python cannot
    compile is not checked."""
    try:
        return re.search(pattern, value, re.DOTALL) is not None
    except re.error:
        return True


def _bounds(size: int, shape: Shape, path: str, unit: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    what = f" {unit}" if unit else ""
    if low is not None and size < low:
        raise ShapeError(path, f"expected at least {low}{what}, got {size}")
    if high is not None and size > high:
        raise ShapeError(path, f"expected at most {high}{what}, got {size}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
