"""Results as the Data API reports them: ``Field`` values, ``ColumnMetadata``, errors ([BC:rds-data])."""
from __future__ import annotations

import base64
import datetime as _dt
import decimal
import json
from typing import Any

from pytest_drtest.emulation.core import AwsError

#: JDBC ``java.sql.Types`` codes the Data API reports in ``ColumnMetadata.type``.
JDBC_TYPES = {
    "bool": -7, "int2": 5, "int4": 4, "int8": -5, "float4": 7, "float8": 8, "numeric": 2, "money": 8,
    "text": 12, "varchar": 12, "bpchar": 1, "char": 1, "name": 12, "date": 91, "time": 92, "timetz": 92,
    "timestamp": 93, "timestamptz": 93, "bytea": -2, "oid": -5,
}
_NUMERIC = {"int2", "int4", "int8", "float4", "float8", "numeric", "money", "oid"}
_CASE_SENSITIVE = {"text", "varchar", "bpchar", "char", "name", "json", "jsonb", "xml"}
_JSON_TYPES = {"json", "jsonb"}


def to_field(value: Any, type_name: str, options: dict[str, Any]) -> dict[str, Any]:
    """A result value as a Data API ``Field``."""
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"stringValue": str(value)} if options.get("longReturnType") == "STRING" else {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, decimal.Decimal):
        if options.get("decimalReturnType") == "DOUBLE_OR_LONG":
            return {"longValue": int(value)} if value == value.to_integral_value() else {"doubleValue": float(value)}
        return {"stringValue": str(value)}  # the default: DECIMAL as a string [BC:rds-data] ResultSetOptions
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"blobValue": bytes(value)}
    if type_name in _JSON_TYPES:
        return {"stringValue": json.dumps(value)}
    if isinstance(value, list):
        return {"arrayValue": _array(value, type_name, options)}
    return {"stringValue": _text(value)}


def _array(values: list[Any], type_name: str, options: dict[str, Any]) -> dict[str, Any]:
    if values and all(isinstance(v, list) for v in values):
        return {"arrayValues": [_array(v, type_name, options) for v in values]}
    if all(isinstance(v, bool) for v in values if v is not None):
        kind = "booleanValues"
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in values if v is not None):
        kind = "longValues"
    elif all(isinstance(v, float) for v in values if v is not None):
        kind = "doubleValues"
    else:
        return {"stringValues": [None if v is None else _text(v) for v in values]}
    return {kind: list(values)}


def _text(value: Any) -> str:
    """Dates and times as the Data API prints them (``YYYY-MM-DD HH:MM:SS[.ffffff]``, UTC)."""
    if isinstance(value, _dt.datetime):
        moment: _dt.datetime = value
        if moment.tzinfo is not None:
            moment = moment.astimezone(_dt.UTC).replace(tzinfo=None)
        return moment.isoformat(sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    return str(value)


def json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str, dict)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return _text(value)


def records_updated(cur: Any) -> int:
    """Rows written by an INSERT/UPDATE/DELETE/MERGE (0 for a query), as the Data API counts them."""
    status = (cur.statusmessage or "").split(" ", 1)[0].upper()
    if status in ("INSERT", "UPDATE", "DELETE", "MERGE") and cur.rowcount >= 0:
        return int(cur.rowcount)
    return 0


def pg_type_name(conn: Any, oid: int) -> str:
    info = conn.adapters.types.get(oid)
    if info is not None:
        return str(info.name)
    row = conn.execute("SELECT typname FROM pg_type WHERE oid = %s", (oid,)).fetchone()
    return str(row[0]) if row else "unknown"


def column_metadata(column: Any, type_name: str) -> dict[str, Any]:
    """``ColumnMetadata`` ([BC:rds-data]) from a psycopg column description."""
    base = type_name.lstrip("_")
    return {
        "name": column.name, "label": column.name,
        "type": 2003 if type_name.startswith("_") else JDBC_TYPES.get(type_name, 1111),  # 2003: ARRAY
        "typeName": type_name, "schemaName": "", "tableName": "", "isAutoIncrement": False,
        "isSigned": base in _NUMERIC, "isCurrency": base == "money", "isCaseSensitive": base in _CASE_SENSITIVE,
        "nullable": 2,  # columnNullableUnknown: a result column does not say
        "precision": int(column.precision or column.display_size or max(column.internal_size or 0, 0) or 2147483647),
        "scale": int(column.scale or 0),
        "arrayBaseColumnType": JDBC_TYPES.get(base, 1111) if type_name.startswith("_") else 0,
    }


def database_error(exc: Exception) -> AwsError:
    """A PostgreSQL error as the Data API reports it (``DatabaseErrorException``)."""
    diag = getattr(exc, "diag", None)
    text = str(exc).strip()
    primary = getattr(diag, "message_primary", None) or (text.splitlines()[0] if text else type(exc).__name__)
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate is None:  # no answer from the server at all: it is not available
        return AwsError("DatabaseUnavailableException", f"Database is not available: {primary}", 504)
    return AwsError("DatabaseErrorException", f"ERROR: {primary}; SQLState: {sqlstate}", 400)


#: What PostgreSQL answers a login whose credentials it refuses (scram-sha-256 answers the same for
#: an unknown role) or whose database does not exist.
LOGIN_REFUSALS = ("password authentication failed", "does not exist")


def login_error(exc: Exception) -> AwsError:
    """A failed login of the Data API. AWS documents no error code for a secret whose credentials the
    database refuses; the emulation answers ``BadRequestException`` ("There is an error in the call",
    [BC:rds-data]) with PostgreSQL's own message (``FATAL: password authentication failed for user
    "..."``). A server that does not answer at all is ``DatabaseUnavailableException``, as for a
    statement."""
    text = str(exc).strip()
    fatal = next((line.strip() for line in text.splitlines() if "FATAL:" in line), "")
    if fatal and any(refusal in fatal for refusal in LOGIN_REFUSALS):
        message = "FATAL: " + " ".join(fatal.split("FATAL:", 1)[1].split())
        return AwsError("BadRequestException", message, 400)
    return database_error(exc)
