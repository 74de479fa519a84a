"""Paced time: a process outside the test meets modeled time while the test only waits for it."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from pytest_drtest.harness import Harness
from pytest_drtest.settings import Settings


def test_a_restore_completes_while_another_process_polls_in_wall_time() -> None:
    settings = Settings(backend="moto-server", clock_mode="paced", clock_speed=7200)
    with Harness(settings, strategy="warm-standby") as dr:
        ddb = dr.client("dynamodb")
        ddb.create_table(TableName="orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        ddb.update_continuous_backups(TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        dr.clock.sleep("1h")  # not paced yet: no wall time
        ddb.restore_table_to_point_in_time(SourceTableName="orders", TargetTableName="restored", UseLatestRestorableTime=True)
        dr.clock.pace()
        started = dr.clock.now()
        code = textwrap.dedent("""
            import time, boto3
            ddb = boto3.client("dynamodb")
            for _ in range(400):
                status = ddb.describe_table(TableName="restored")["Table"]["TableStatus"]
                if status == "ACTIVE":
                    print("ACTIVE"); break
                time.sleep(0.05)  # the process's own backoff, in wall time
            else:
                print(status)
        """)
        wall = time.monotonic()
        done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **dr.env("primary")},
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.stdout.strip() == "ACTIVE", done.stderr
        modeled = dr.clock.now() - started
        assert modeled > 60  # the restore took modeled minutes ...
        assert time.monotonic() - wall < 30  # ... that passed at 7200x while the process polled
