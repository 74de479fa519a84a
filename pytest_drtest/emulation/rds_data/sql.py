"""Data API statements as psycopg runs them: ``:name`` placeholders and ``Field`` parameters ([BC:rds-data])."""
from __future__ import annotations

import re
from typing import Any

from pytest_drtest.emulation.core import AwsError

MAX_SQL_CHARS = 65536  # [BC:rds-data] ExecuteStatement.sql

#: ``typeHint`` → the PostgreSQL type the parameter is cast to ([BC:rds-data] SqlParameter.typeHint).
TYPE_HINT_CASTS = {"DATE": "date", "TIME": "time", "TIMESTAMP": "timestamp", "DECIMAL": "numeric", "UUID": "uuid"}

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_sql(sql: str) -> str:
    if not sql or not sql.strip():
        raise AwsError("BadRequestException", "SQL statement is empty", 400)
    if len(sql) > MAX_SQL_CHARS:
        raise AwsError("BadRequestException", f"SQL statement exceeds {MAX_SQL_CHARS} characters", 400)
    return sql


def to_psycopg(sql: str, parameters: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Rewrite Data API ``:name`` placeholders as psycopg's ``%(name)s`` and convert the values.

    String literals, quoted identifiers, dollar-quoted bodies, comments and ``::`` casts are left
    alone; every ``%`` is doubled (psycopg reads placeholders everywhere).
    """
    values: dict[str, Any] = {}
    hints: dict[str, str] = {}
    for parameter in parameters:
        name = parameter.get("name")
        if not name:
            raise AwsError("BadRequestException", "Parameter name is required", 400)
        values[name] = python_value(parameter.get("value") or {}, name)
        if parameter.get("typeHint"):
            hints[name] = parameter["typeHint"]
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        nxt = sql[i + 1] if i + 1 < n else ""
        if ch in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i:end + 1].replace("%", "%%"))
            i = end + 1
        elif ch == "-" and nxt == "-":
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif ch == "/" and nxt == "*":
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif ch == "$" and (tag := _DOLLAR_TAG.match(sql, i)) is not None:
            end = sql.find(tag.group(0), tag.end())
            end = n if end < 0 else end + len(tag.group(0))
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif ch == ":" and nxt == ":":
            out.append("::")
            i += 2
        elif ch == ":" and (name_match := _NAME.match(sql, i + 1)) is not None:
            name = name_match.group(0)
            if name not in values:
                raise AwsError("BadRequestException", f"No value specified for parameter: {name}", 400)
            cast = TYPE_HINT_CASTS.get(hints.get(name, ""))
            out.append(f"%({name})s" + (f"::{cast}" if cast else ""))
            i = name_match.end()
        elif ch == "%":
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out), values


def python_value(field: dict[str, Any], name: str) -> Any:
    """A ``Field`` as the Python value psycopg sends."""
    if field.get("isNull"):
        return None
    for key in ("booleanValue", "longValue", "doubleValue", "stringValue"):
        if key in field:
            return field[key]
    if "blobValue" in field:
        blob = field["blobValue"]
        return bytes(blob) if not isinstance(blob, str) else blob.encode()
    if "arrayValue" in field:
        raise AwsError("BadRequestException", f"Array parameters are not supported (parameter {name})", 400)
    raise AwsError("BadRequestException", f"Parameter {name} has no value", 400)
