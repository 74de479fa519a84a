"""The RDS Data API emulator: statements and transactions on an Aurora cluster's current writer."""
from __future__ import annotations

import base64
import contextlib
import json
from typing import TYPE_CHECKING, Any

from pytest_drtest.emulation.core import AwsError, Call, Emulation, ServiceEmulator
from pytest_drtest.emulation.rds_data.fields import (
    column_metadata,
    database_error,
    json_value,
    login_error,
    pg_type_name,
    records_updated,
    to_field,
)
from pytest_drtest.emulation.rds_data.models import (
    TRANSACTION_IDLE_TIMEOUT,
    Transaction,
)
from pytest_drtest.emulation.rds_data.sql import check_sql, to_psycopg

if TYPE_CHECKING:
    import psycopg

    from pytest_drtest.emulation.aurora import AuroraCluster, AuroraEmulator


class RdsDataEmulator(ServiceEmulator):
    """Runs Data API statements on the writer of an :class:`AuroraEmulator` cluster."""

    service = "rds-data"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self._transactions: dict[str, Transaction] = {}

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

    def _secret_credentials(self, call: Call) -> tuple[str, str]:
        """``(username, password)`` of the call's ``secretArn``: a Secrets Manager secret of the call's
        region whose ``SecretString`` is JSON with ``username`` and ``password`` [AUR-UG:data-api]
        ("Storing database credentials in AWS Secrets Manager").

        A secret that does not exist answers ``SecretsErrorException`` ("The secret provided wasn't
        found", [BC:rds-data]); one without a JSON ``username`` and ``password``,
        ``InvalidSecretException`` ("The Secrets Manager secret used with the request isn't valid").
        """
        arn = str(call.params.get("secretArn") or "")
        try:
            value = self.backdoor(call.region, "secretsmanager").get_secret_value(SecretId=arn)
        except Exception:  # noqa: BLE001 - ResourceNotFoundException, or not an ARN of this region
            raise AwsError("SecretsErrorException",
                           f"Secrets Manager can't find the specified secret: {arn}", 400) from None
        try:
            secret = json.loads(value.get("SecretString") or "")
            username, password = secret["username"], secret["password"]
        except (ValueError, TypeError, KeyError):
            raise AwsError("InvalidSecretException",
                           f"The secret {arn} must hold JSON with \"username\" and \"password\"", 400) from None
        if not isinstance(username, str) or not isinstance(password, str):
            raise AwsError("InvalidSecretException",
                           f"The secret {arn}'s \"username\" and \"password\" must be strings", 400)
        return username, password

    def _connect(self, cluster: AuroraCluster, call: Call) -> psycopg.Connection[Any]:
        """A connection to the writer as the secret's user (the credentials are checked by PostgreSQL:
        scram-sha-256, as every login of the data plane)."""
        aurora = self._aurora()
        assert aurora is not None
        server = aurora.writer_server(cluster)
        user, password = self._secret_credentials(call)
        database = call.params.get("database") or aurora.master_credentials(cluster)["dbname"]
        import psycopg

        try:
            return psycopg.connect(
                host="127.0.0.1", port=server.port, user=user, password=password,
                dbname=database, autocommit=True, connect_timeout=10,
                sslmode="disable", gssencmode="disable",
            )
        except psycopg.Error as exc:
            raise login_error(exc) from None

    # -- transactions ----------------------------------------------------------------------------
    def _transaction(self, call: Call) -> Transaction:
        tx_id = call.params.get("transactionId", "")
        tx = self._transactions.get(tx_id)
        if tx is not None and self.clock.now() - tx.last_used > TRANSACTION_IDLE_TIMEOUT:
            self._end(tx, commit=False)
            tx = None
        if tx is None or tx.cluster.arn != call.params.get("resourceArn", tx.cluster.arn):
            raise AwsError("TransactionNotFoundException", f"Transaction {tx_id} is not found", 404)
        tx.last_used = self.clock.now()
        return tx

    def _end(self, tx: Transaction, *, commit: bool) -> None:
        self._transactions.pop(tx.id, None)
        import psycopg

        try:
            if commit:
                tx.conn.commit()
            else:
                tx.conn.rollback()
        except psycopg.Error as exc:
            raise database_error(exc) from None
        finally:
            tx.conn.close()

    def before_BeginTransaction(self, call: Call) -> dict[str, Any] | None:
        cluster = self._cluster(call)
        if cluster is None:
            return None
        conn = self._connect(cluster, call)
        conn.autocommit = False
        # a seeded id: the same run gives the same ids (the profile's stream per cluster)
        token = self.profile.rng(f"rds-data.transaction-ids:{call.params.get('resourceArn', '')}").randbytes(16)
        tx = Transaction(base64.b64encode(token * 2).decode(), cluster, conn, self.clock.now())
        self._transactions[tx.id] = tx
        return {"transactionId": tx.id}

    def before_CommitTransaction(self, call: Call) -> dict[str, Any] | None:
        if self._cluster(call) is None:
            return None
        self._secret_credentials(call)
        self._end(self._transaction(call), commit=True)
        return {"transactionStatus": "Transaction Committed"}

    def before_RollbackTransaction(self, call: Call) -> dict[str, Any] | None:
        if self._cluster(call) is None:
            return None
        self._secret_credentials(call)
        self._end(self._transaction(call), commit=False)
        return {"transactionStatus": "Rollback Complete"}

    # -- statements ------------------------------------------------------------------------------
    def before_ExecuteStatement(self, call: Call) -> dict[str, Any] | None:
        cluster = self._cluster(call)
        if cluster is None:
            return None
        params = call.params
        sql = check_sql(params.get("sql", ""))
        query, values = to_psycopg(sql, params.get("parameters") or [])
        options = params.get("resultSetOptions") or {}
        as_json = params.get("formatRecordsAs") == "JSON"
        with self._statement_connection(cluster, call) as conn:
            import psycopg

            try:
                cur = conn.execute(query, values)
            except psycopg.Error as exc:
                raise database_error(exc) from None
            response: dict[str, Any] = {"numberOfRecordsUpdated": records_updated(cur)}
            if cur.description is not None:
                rows = cur.fetchall()
                types = [pg_type_name(conn, column.type_code) for column in cur.description]
                if as_json:
                    names = [column.name for column in cur.description]
                    response["formattedRecords"] = json.dumps(
                        [{n: json_value(v) for n, v in zip(names, row, strict=True)} for row in rows])
                else:
                    response["records"] = [
                        [to_field(v, t, options) for v, t in zip(row, types, strict=True)] for row in rows
                    ]
                    if params.get("includeResultMetadata"):
                        response["columnMetadata"] = [
                            column_metadata(c, t) for c, t in zip(cur.description, types, strict=True)]
            elif params.get("includeResultMetadata") and not as_json:
                response["columnMetadata"] = []
        return response

    def before_BatchExecuteStatement(self, call: Call) -> dict[str, Any] | None:
        cluster = self._cluster(call)
        if cluster is None:
            return None
        sql = check_sql(call.params.get("sql", ""))
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
                            types = [pg_type_name(conn, c.type_code) for c in cur.description]
                            generated = [to_field(v, t, {}) for v, t in zip(row or (), types, strict=False)]
                        results.append({"generatedFields": generated})
            except psycopg.Error as exc:
                raise database_error(exc) from None
        return {"updateResults": results}

    def _statement_connection(self, cluster: AuroraCluster, call: Call) -> Any:
        """A context manager yielding the connection to run on (the transaction's, or a new one)."""
        if call.params.get("transactionId"):
            tx = self._transaction(call)
            aurora = self._aurora()
            assert aurora is not None
            aurora.writer_server(cluster)  # a failover in between: 504, as for a new statement
            self._secret_credentials(call)
            return contextlib.nullcontext(tx.conn)
        return self._connect(cluster, call)

    def close(self) -> None:
        super().close()
        for tx in list(self._transactions.values()):
            self._transactions.pop(tx.id, None)
            with contextlib.suppress(Exception):  # the server may be gone already
                tx.conn.close()
