"""The DynamoDB emulator: table lifecycle, item calls and writes, on top of its behaviours."""
from __future__ import annotations

import json

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.dynamodb.backups import OnDemandBackups
from pytest_drtest.emulation.dynamodb.global_tables import GlobalTables
from pytest_drtest.emulation.dynamodb.models import Item, Version, table_name_of
from pytest_drtest.emulation.dynamodb.pitr import PointInTimeRecovery


class DynamoDbEmulator(PointInTimeRecovery, OnDemandBackups, GlobalTables):
    """DynamoDB's DR behaviour (PITR, backups, global tables) on the run's clock."""

    def close(self) -> None:
        super().close()  # cancels the deliveries and the ends of restores
        self._in_flight.clear()
        for state in self._tables.values():
            if state.restore is not None:
                state.restore.handle = None
        for progress in self._adding.values():
            progress.handle = None

    # -- tables still being restored ----------------------------------------------------------
    def _reject_if_creating(self, call: Call) -> None:
        """Item calls on a table still CREATING fail as if it did not exist yet ([DDB-DG:CreateBackup])."""
        for table in self._tables_of_call(call):
            if self._restoring_state(call.region, table) is not None or self._replica_creating(call.region, table):
                raise AwsError("ResourceNotFoundException", "Requested resource not found")

    @staticmethod
    def _tables_of_call(call: Call) -> list[str]:
        params = call.params
        if "TableName" in params:
            return [params["TableName"]]
        if "RequestItems" in params:
            return list(params["RequestItems"])
        names = []
        for entry in params.get("TransactItems", []):
            for action in entry.values():
                if isinstance(action, dict) and "TableName" in action:
                    names.append(action["TableName"])
        return names

    def before_GetItem(self, call: Call) -> None:
        self._reject_if_creating(call)

    before_PutItem = before_GetItem

    before_UpdateItem = before_GetItem

    before_DeleteItem = before_GetItem

    before_Query = before_GetItem

    before_Scan = before_GetItem

    before_BatchGetItem = before_GetItem

    before_BatchWriteItem = before_GetItem

    before_TransactGetItems = before_GetItem

    before_TransactWriteItems = before_GetItem

    def before_DeleteTable(self, call: Call) -> None:
        name = table_name_of(call.params["TableName"])
        if self._restoring_state(call.region, name) is not None or self._replica_creating(call.region, name):
            raise AwsError("ResourceInUseException", f"Table is being created: {name}")
        if call.region in self._groups.get(name, ()) and self._updating(name):
            raise AwsError("ResourceInUseException", f"Table is being updated: {name}")

    # -- table lifecycle --------------------------------------------------------------------
    def after_CreateTable(self, call: Call) -> None:
        assert call.parsed is not None
        name = table_name_of(call.params["TableName"])
        self._forget_table(call.region, name)
        self._new_state(call.region, name, call.params["KeySchema"], created_at=self.clock.now())
        self._decorate(call.region, call.parsed["TableDescription"])

    def after_DescribeTable(self, call: Call) -> None:
        assert call.parsed is not None
        self._decorate(call.region, call.parsed["Table"])

    def after_DeleteTable(self, call: Call) -> None:
        assert call.parsed is not None
        name = table_name_of(call.params["TableName"])
        self._decorate(call.region, call.parsed["TableDescription"])
        self._forget_table(call.region, name)

    # -- item writes ------------------------------------------------------------------------
    def after_PutItem(self, call: Call) -> None:
        self._local_write(call.region, call.params["TableName"], call.params["Item"])

    def after_UpdateItem(self, call: Call) -> None:
        self._local_update(call.region, call.params["TableName"], call.params["Key"])

    def after_DeleteItem(self, call: Call) -> None:
        self._local_write(call.region, call.params["TableName"], call.params["Key"], delete=True)

    def after_BatchWriteItem(self, call: Call) -> None:
        assert call.parsed is not None
        unprocessed = call.parsed.get("UnprocessedItems") or {}
        for table, requests in call.params["RequestItems"].items():
            skipped = [json.dumps(r, sort_keys=True, default=repr) for r in unprocessed.get(table, [])]
            for request in requests:
                if json.dumps(request, sort_keys=True, default=repr) in skipped:
                    continue
                if "PutRequest" in request:
                    self._local_write(call.region, table, request["PutRequest"]["Item"])
                elif "DeleteRequest" in request:
                    self._local_write(call.region, table, request["DeleteRequest"]["Key"], delete=True)

    def after_TransactWriteItems(self, call: Call) -> None:
        # Each item of a transaction replicates on its own ([DDB-DG:V2globaltables_HowItWorks]).
        for entry in call.params["TransactItems"]:
            if "Put" in entry:
                self._local_write(call.region, entry["Put"]["TableName"], entry["Put"]["Item"])
            elif "Update" in entry:
                self._local_update(call.region, entry["Update"]["TableName"], entry["Update"]["Key"])
            elif "Delete" in entry:
                self._local_write(call.region, entry["Delete"]["TableName"], entry["Delete"]["Key"], delete=True)

    def _local_update(self, region: str, table: str, key: Item) -> None:
        """An UpdateItem's new image, read back with a consistent read."""
        name = table_name_of(table)
        image = self._client(region).get_item(TableName=name, Key=key, ConsistentRead=True).get("Item")
        if image is None:
            self._local_write(region, name, key, delete=True)
        else:
            self._local_write(region, name, image)

    def _local_write(self, region: str, table: str, item: Item, *, delete: bool = False) -> None:
        """Record a caller's successful write and send it to the other replicas."""
        name = table_name_of(table)
        state = self._state(region, name)
        if state is None:
            return
        record = self._record(state, item, origin="write", source_region=region, delete=delete)
        seq = next(self._write_seq)
        state.versions[record.key] = Version(record.time, seq, region)
        group = self._groups.get(name, [])
        if region in group:
            for dest in group:
                if dest != region:
                    self._send(seq, name, record, region, dest)
