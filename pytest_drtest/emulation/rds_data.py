"""RDS Data API (``rds-data``) on the Aurora clusters' real PostgreSQL writers.

moto's ``execute_statement`` runs no SQL and answers queued canned results (``shared/NOTES.md``);
``begin_transaction`` and ``batch_execute_statement`` are NotImplemented. For clusters owned by
:class:`~pytest_drtest.emulation.aurora.AuroraEmulator` this emulator runs the statement on the
cluster's current writer with psycopg and answers as the Data API does (AWS-SEMANTICS §7.5):

- named parameters (``:name``) with ``Field`` values and ``typeHint``;
- ``records`` as ``Field`` lists, ``numberOfRecordsUpdated``, ``columnMetadata`` with
  ``includeResultMetadata``, ``formattedRecords`` (and no records) with ``formatRecordsAs=JSON``,
  ``resultSetOptions`` (``decimalReturnType``, ``longReturnType``);
- ``BeginTransaction`` / ``CommitTransaction`` / ``RollbackTransaction`` and ``transactionId``
  (a transaction idle for 3 minutes of clock time is rolled back [AUR-UG:data-api]);
- ``BatchExecuteStatement`` (``parameterSets``, ``updateResults``);
- errors: ``HttpEndpointNotEnabledException`` (cluster created without ``EnableHttpEndpoint``),
  ``DatabaseNotFoundException`` (no DB instance), ``DatabaseUnavailableException`` (504: the writer
  is failing over, fenced or unreachable), ``DatabaseErrorException`` (the SQL failed in
  PostgreSQL; current clusters answer it rather than Serverless v1's ``BadRequestException``),
  ``BadRequestException`` (a bad call: unknown cluster ARN, missing or array parameter),
  ``TransactionNotFoundException``.

The secret (``secretArn``) is accepted as given: statements run as the cluster's master user.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import decimal
import json
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_drtest.emulation.core import AwsError, Call, Emulation, ServiceEmulator

if TYPE_CHECKING:
    import psycopg

    from pytest_drtest.emulation.aurora import AuroraCluster, AuroraEmulator

TRANSACTION_IDLE_TIMEOUT = 180.0  # "dropped and rolled back after 3 min without a call" [AUR-UG:data-api]
MAX_SQL_CHARS = 65536  # [BC:rds-data] ExecuteStatement.sql

#: ``typeHint`` → the PostgreSQL type the parameter is cast to ([BC:rds-data] SqlParameter.typeHint).
TYPE_HINT_CASTS = {"DATE": "date", "TIME": "time", "TIMESTAMP": "timestamp", "DECIMAL": "numeric", "UUID": "uuid"}

#: JDBC ``java.sql.Types`` codes the Data API reports in ``ColumnMetadata.type``.
JDBC_TYPES = {
    "bool": -7, "int2": 5, "int4": 4, "int8": -5, "float4": 7, "float8": 8, "numeric": 2, "money": 8,
    "text": 12, "varchar": 12, "bpchar": 1, "char": 1, "name": 12, "date": 91, "time": 92, "timetz": 92,
    "timestamp": 93, "timestamptz": 93, "bytea": -2, "oid": -5,
}
_NUMERIC = {"int2", "int4", "int8", "float4", "float8", "numeric", "money", "oid"}
_CASE_SENSITIVE = {"text", "varchar", "bpchar", "char", "name", "json", "jsonb", "xml"}
_JSON_TYPES = {"json", "jsonb"}
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class _Transaction:
    id: str
    cluster: AuroraCluster
    conn: psycopg.Connection[Any]
    last_used: float


class RdsDataEmulator(ServiceEmulator):
    """Runs Data API statements on the writer of an :class:`AuroraEmulator` cluster."""

    service = "rds-data"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._transactions: dict[str, _Transaction] = {}

    # -- lookups ---------------------------------------------------------------------------------
    def _aurora(self) -> AuroraEmulator | None:
        from pytest_drtest.emulation.aurora import AuroraEmulator

        try:
            return self.emulation.find(AuroraEmulator)
        except KeyError:
            return None

    def _cluster(self, call: Call) -> AuroraCluster | None:
        """The call's cluster; None lets moto answer (no Aurora emulator, or not an Aurora ARN of ours)."""
        aurora = self._aurora()
        arn = call.params.get("resourceArn", "")
        if aurora is None:
            return None
        cluster = aurora.data_api_target(call.region, arn)
        if cluster is None:
            if self._moto_knows(call.region, arn):
                return None  # another engine's cluster: moto's canned answers
            raise AwsError("BadRequestException", f"Invalid cluster arn: {arn}", 400)
        return cluster

    def _moto_knows(self, region: str, arn: str) -> bool:
        try:
            self.backdoor(region, "rds").describe_db_clusters(DBClusterIdentifier=arn)
        except Exception:  # noqa: BLE001 - not found (or not an ARN at all)
            return False
        return True

    def _connect(self, cluster: AuroraCluster, database: str | None) -> psycopg.Connection[Any]:
        aurora = self._aurora()
        assert aurora is not None
        server = aurora.writer_server(cluster)
        credentials = aurora.master_credentials(cluster)
        import psycopg

        try:
            return psycopg.connect(
                host="127.0.0.1", port=server.port, user=credentials["user"], password=credentials["password"],
                dbname=database or credentials["dbname"], autocommit=True, connect_timeout=10,
                sslmode="disable", gssencmode="disable",
            )
        except psycopg.Error as exc:
            raise _database_error(exc) from None

    # -- transactions ----------------------------------------------------------------------------
    def _transaction(self, call: Call) -> _Transaction:
        tx_id = call.params.get("transactionId", "")
        tx = self._transactions.get(tx_id)
        if tx is not None and self.clock.now() - tx.last_used > TRANSACTION_IDLE_TIMEOUT:
            self._end(tx, commit=False)
            tx = None
        if tx is None or tx.cluster.arn != call.params.get("resourceArn", tx.cluster.arn):
            raise AwsError("TransactionNotFoundException", f"Transaction {tx_id} is not found", 404)
        tx.last_used = self.clock.now()
        return tx

    def _end(self, tx: _Transaction, *, commit: bool) -> None:
        self._transactions.pop(tx.id, None)
        import psycopg

        try:
            if commit:
                tx.conn.commit()
            else:
                tx.conn.rollback()
        except psycopg.Error as exc:
            raise _database_error(exc) from None
        finally:
            tx.conn.close()

    def before_BeginTransaction(self, call: Call) -> dict[str, Any] | None:
        cluster = self._cluster(call)
        if cluster is None:
            return None
        conn = self._connect(cluster, call.params.get("database"))
        conn.autocommit = False
        tx = _Transaction(base64.b64encode(uuid.uuid4().bytes * 2).decode(), cluster, conn, self.clock.now())
        self._transactions[tx.id] = tx
        return {"transactionId": tx.id}

    def before_CommitTransaction(self, call: Call) -> dict[str, Any] | None:
        if self._cluster(call) is None:
            return None
        self._end(self._transaction(call), commit=True)
        return {"transactionStatus": "Transaction Committed"}

    def before_RollbackTransaction(self, call: Call) -> dict[str, Any] | None:
        if self._cluster(call) is None:
            return None
        self._end(self._transaction(call), commit=False)
        return {"transactionStatus": "Rollback Complete"}

    # -- statements ------------------------------------------------------------------------------
    def before_ExecuteStatement(self, call: Call) -> dict[str, Any] | None:
        cluster = self._cluster(call)
        if cluster is None:
            return None
        params = call.params
        sql = _check_sql(params.get("sql", ""))
        query, values = to_psycopg(sql, params.get("parameters") or [])
        options = params.get("resultSetOptions") or {}
        as_json = params.get("formatRecordsAs") == "JSON"
        with self._statement_connection(cluster, call) as conn:
            import psycopg

            try:
                cur = conn.execute(query, values)
            except psycopg.Error as exc:
                raise _database_error(exc) from None
            response: dict[str, Any] = {"numberOfRecordsUpdated": _updated(cur)}
            if cur.description is not None:
                rows = cur.fetchall()
                types = [_type_name(conn, column.type_code) for column in cur.description]
                if as_json:
                    names = [column.name for column in cur.description]
                    response["formattedRecords"] = json.dumps(
                        [{n: _json_value(v) for n, v in zip(names, row, strict=True)} for row in rows])
                else:
                    response["records"] = [
                        [_field(v, t, options) for v, t in zip(row, types, strict=True)] for row in rows
                    ]
                    if params.get("includeResultMetadata"):
                        response["columnMetadata"] = [
                            _column(c, t) for c, t in zip(cur.description, types, strict=True)]
            elif params.get("includeResultMetadata") and not as_json:
                response["columnMetadata"] = []
        return response

    def before_BatchExecuteStatement(self, call: Call) -> dict[str, Any] | None:
        cluster = self._cluster(call)
        if cluster is None:
            return None
        sql = _check_sql(call.params.get("sql", ""))
        parameter_sets = call.params.get("parameterSets") or [[]]
        results = []
        with self._statement_connection(cluster, call) as conn:
            import psycopg

            try:
                with conn.transaction():  # the batch is one statement: all or nothing
                    for parameters in parameter_sets:
                        query, values = to_psycopg(sql, parameters)
                        cur = conn.execute(query, values)
                        generated = []
                        if cur.description is not None:
                            row = cur.fetchone()
                            types = [_type_name(conn, c.type_code) for c in cur.description]
                            generated = [_field(v, t, {}) for v, t in zip(row or (), types, strict=False)]
                        results.append({"generatedFields": generated})
            except psycopg.Error as exc:
                raise _database_error(exc) from None
        return {"updateResults": results}

    def _statement_connection(self, cluster: AuroraCluster, call: Call) -> Any:
        """A context manager yielding the connection to run on (the transaction's, or a new one)."""
        if call.params.get("transactionId"):
            tx = self._transaction(call)
            aurora = self._aurora()
            assert aurora is not None
            aurora.writer_server(cluster)  # a failover in between: 504, as for a new statement
            return contextlib.nullcontext(tx.conn)
        return self._connect(cluster, call.params.get("database"))

    def close(self) -> None:
        for tx in list(self._transactions.values()):
            self._transactions.pop(tx.id, None)
            with contextlib.suppress(Exception):  # the server may be gone already
                tx.conn.close()


# -- SQL and values ------------------------------------------------------------------------------
def _check_sql(sql: str) -> str:
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
        values[name] = _python_value(parameter.get("value") or {}, name)
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


def _python_value(field: dict[str, Any], name: str) -> Any:
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


def _field(value: Any, type_name: str, options: dict[str, Any]) -> dict[str, Any]:
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


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str, dict)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return _text(value)


def _updated(cur: Any) -> int:
    """Rows written by an INSERT/UPDATE/DELETE/MERGE (0 for a query), as the Data API counts them."""
    status = (cur.statusmessage or "").split(" ", 1)[0].upper()
    if status in ("INSERT", "UPDATE", "DELETE", "MERGE") and cur.rowcount >= 0:
        return int(cur.rowcount)
    return 0


def _type_name(conn: Any, oid: int) -> str:
    info = conn.adapters.types.get(oid)
    if info is not None:
        return str(info.name)
    row = conn.execute("SELECT typname FROM pg_type WHERE oid = %s", (oid,)).fetchone()
    return str(row[0]) if row else "unknown"


def _column(column: Any, type_name: str) -> dict[str, Any]:
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


def _database_error(exc: Exception) -> AwsError:
    """A PostgreSQL error as the Data API reports it (``DatabaseErrorException``)."""
    diag = getattr(exc, "diag", None)
    text = str(exc).strip()
    primary = getattr(diag, "message_primary", None) or (text.splitlines()[0] if text else type(exc).__name__)
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate is None:  # no answer from the server at all: it is not available
        return AwsError("DatabaseUnavailableException", f"Database is not available: {primary}", 504)
    return AwsError("DatabaseErrorException", f"ERROR: {primary}; SQLState: {sqlstate}", 400)
