"""Automation variables, selectors and API inputs.

- ``{{ Name }}``: a parameter, ``{{ Step.Output }}`` a step output, ``{{ global:DATE_TIME }}``,
  ``{{ global:REGION }}``, ``{{ global:ACCOUNT_ID }}``, ``{{ automation:EXECUTION_ID }}``
  ([SSM-UG:automation-variables]). A value that is one variable keeps the variable's type (a
  StringList stays a list); one embedded in text becomes text.
- Selectors are JSONPath (``$.Table.TableStatus``, ``$.DBInstances[0].DBInstanceStatus``), read
  with jsonpath-ng; an output's ``Type`` converts what the selector found.
- API inputs are converted to the operation's input shape (``"20"`` for an integer member), as SSM
  does for values that arrive as strings.
"""
from __future__ import annotations

import datetime as _dt
import functools
import json
import re
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from jsonpath_ng.parser import parse as jsonpath

from pytest_drtest.backends.base import _SHARED_LOADER

VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_:.\-]+)\s*\}\}")


class Unresolved(ValueError):
    """A ``{{ }}`` names nothing defined (yet)."""


def substitute(value: Any, lookup: Callable[[str], Any]) -> Any:
    """``value`` with every ``{{ variable }}`` replaced (recursively through lists and maps)."""
    if isinstance(value, dict):
        return {k: substitute(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, lookup) for v in value]
    if not isinstance(value, str):
        return value
    whole = VARIABLE.fullmatch(value.strip())
    if whole:
        return lookup(whole.group(1))
    return VARIABLE.sub(lambda m: _text(lookup(m.group(1))), value)


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    return str(value)


def select(data: Any, selector: str) -> list[Any]:
    """Every match of a JSONPath ``selector`` in ``data``."""
    try:
        return [match.value for match in jsonpath(selector).find(data)]
    except Exception as exc:  # noqa: BLE001 - jsonpath-ng raises its own parse errors
        raise ValueError(f"selector {selector!r} is not JSONPath: {exc}") from None


def typed(found: list[Any], kind: str) -> Any:
    """What a selector found, as an output of ``Type`` ``kind``."""
    if kind == "StringList":
        items = found[0] if len(found) == 1 and isinstance(found[0], list) else found
        return [_text(v) for v in items]
    if kind == "MapList":
        items = found[0] if len(found) == 1 and isinstance(found[0], list) else found
        return [json.loads(json.dumps(v, default=str)) for v in items]
    if not found:
        raise ValueError("the selector found nothing")
    value = found[0]
    if kind == "Integer":
        return int(value)
    if kind == "Boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "StringMap":
        return json.loads(json.dumps(value, default=str))
    return _text(value)


def as_strings(value: Any) -> list[str]:
    """An output or parameter as ``GetAutomationExecution`` shows it (a list of strings)."""
    if isinstance(value, list):
        return [_text(v) for v in value]
    return [_text(value)]


# -- API calls ---------------------------------------------------------------------------------------
@functools.cache
def _service_model(service: str) -> Any:
    session = botocore.session.get_session()
    session.register_component("data_loader", _SHARED_LOADER)
    return session.get_service_model(service)


def operation_model(service: str, api: str) -> OperationModel:
    """botocore's model of ``service``'s operation ``api`` (``DescribeDBInstances``; any case)."""
    try:
        model = _service_model(service)
    except botocore.exceptions.UnknownServiceError:
        raise KeyError(f"unknown service {service!r} (a boto3 service name such as 'dynamodb', 'rds')") from None
    wanted = api.replace("_", "").lower()
    for name in model.operation_names:
        if name.lower() == wanted:
            return model.operation_model(name)
    raise KeyError(f"{service} has no API {api!r}")


def coerce(value: Any, shape: Shape | None) -> Any:
    """``value`` converted to ``shape`` where it arrived as text (integers, booleans, lists)."""
    if shape is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {k: coerce(v, shape.members.get(k)) for k, v in value.items()}
    if isinstance(shape, ListShape):
        items = value if isinstance(value, list) else [value]
        return [coerce(v, shape.member) for v in items]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: coerce(v, shape.value) for k, v in value.items()}
    if shape.type_name in ("integer", "long") and isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if shape.type_name in ("float", "double") and isinstance(value, str):
        return float(value)
    if shape.type_name == "boolean" and isinstance(value, str):
        return value.strip().lower() == "true"
    if shape.type_name == "timestamp" and isinstance(value, str):
        try:
            when = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return value  # botocore reports what it cannot read as a timestamp
        return when if when.tzinfo else when.replace(tzinfo=_dt.UTC)
    if shape.type_name == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def api_parameters(operation: OperationModel, inputs: dict[str, Any], skip: tuple[str, ...]) -> dict[str, Any]:
    """The call's parameters: the step's inputs without its own keys, converted to the input shape."""
    shape = operation.input_shape
    params = {k: v for k, v in inputs.items() if k not in skip}
    if shape is None:
        return params
    return {k: coerce(v, shape.members.get(k)) for k, v in params.items()}

