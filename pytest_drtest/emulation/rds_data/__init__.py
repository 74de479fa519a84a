"""RDS Data API (``rds-data``) on the Aurora clusters' real PostgreSQL writers.

moto's ``execute_statement`` runs no SQL and answers queued canned results;
``begin_transaction`` and ``batch_execute_statement`` are NotImplemented. For clusters owned by
:class:`~pytest_drtest.emulation.aurora.AuroraEmulator` this emulator runs the statement on the
cluster's current writer with psycopg and answers as the Data API does ([BC:rds-data], [AUR-UG:data-api]):

- named parameters (``:name``) with ``Field`` values and ``typeHint`` (``sql``);
- ``records`` as ``Field`` lists, ``numberOfRecordsUpdated``, ``columnMetadata`` with
  ``includeResultMetadata``, ``formattedRecords`` (and no records) with ``formatRecordsAs=JSON``,
  ``resultSetOptions`` (``decimalReturnType``, ``longReturnType``) (``fields``);
- ``BeginTransaction`` / ``CommitTransaction`` / ``RollbackTransaction`` and ``transactionId``
  (a transaction idle for 3 minutes of clock time is rolled back [AUR-UG:data-api]) (``models``);
- ``BatchExecuteStatement`` (``parameterSets``, ``updateResults``);
- errors: ``HttpEndpointNotEnabledException`` (cluster created without ``EnableHttpEndpoint``),
  ``DatabaseNotFoundException`` (no DB instance), ``DatabaseUnavailableException`` (504: the writer
  is failing over, fenced or unreachable), ``DatabaseErrorException`` (the SQL failed in
  PostgreSQL; current clusters answer it rather than Serverless v1's ``BadRequestException``),
  ``BadRequestException`` (a bad call: unknown cluster ARN, missing or array parameter),
  ``TransactionNotFoundException``.

The secret (``secretArn``) must be a Secrets Manager secret of the call's region whose
``SecretString`` is JSON with ``username`` and ``password`` [AUR-UG:data-api]: otherwise
``SecretsErrorException`` (not found) or ``InvalidSecretException`` ([BC:rds-data]). Statements run as
that user; a login PostgreSQL refuses is ``BadRequestException`` with its message (AWS documents no
code for it: the emulation's choice). IAM database authentication is not emulated.
"""
from __future__ import annotations

from pytest_drtest.emulation.rds_data.models import TRANSACTION_IDLE_TIMEOUT
from pytest_drtest.emulation.rds_data.responses import RdsDataEmulator
from pytest_drtest.emulation.rds_data.sql import MAX_SQL_CHARS, to_psycopg

__all__ = ["MAX_SQL_CHARS", "TRANSACTION_IDLE_TIMEOUT", "RdsDataEmulator", "to_psycopg"]
