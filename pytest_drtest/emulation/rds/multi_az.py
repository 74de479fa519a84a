"""Reboots and Multi-AZ failover.

[RDS-UG:USER_RebootInstance]: a reboot is a brief outage (``rds_reboot_time``).
[RDS-UG:Concepts.MultiAZSingleStandby]: a Multi-AZ instance fails over to its synchronous standby
on ``RebootDBInstance(ForceFailover=True)`` or when the primary is unreachable (its AZ lost),
typically in 60-120 s (``rds_multi_az_failover``); events RDS-EVENT-0013, -0015 and -0049
([RDS-UG:USER_Events.Messages]). moto's ``ForceFailover`` does nothing and there is no standby AZ.
"""
from __future__ import annotations

import functools
import logging
from typing import Any

from pytest_drtest.emulation.core import AwsError, Call, az_region
from pytest_drtest.emulation.rds.base import RdsInstanceBase
from pytest_drtest.emulation.rds.models import (
    FORCE_FAILOVER_SINGLE_AZ,
    DbInstance,
    not_available,
)

log = logging.getLogger("pytest_drtest.emulation.rds")

class MultiAz(RdsInstanceBase):
    """``RebootDBInstance`` (with or without ``ForceFailover``) and the loss of an instance's AZ."""

    def before_RebootDBInstance(self, call: Call) -> dict[str, Any] | None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None:
            return None
        status = self._reported_status(inst)
        if status != "available":
            raise not_available(inst.ident, status)
        if call.params.get("ForceFailover"):
            if not inst.multi_az:
                raise AwsError("InvalidParameterCombination", FORCE_FAILOVER_SINGLE_AZ)
            if inst.pair is None or inst.pair.standby is None:
                raise AwsError("InvalidDBInstanceState",
                               f"DB instance {inst.ident} has no standby to fail over to right now.")
        return None

    def after_RebootDBInstance(self, call: Call) -> None:
        inst = self._mine(call.region, call.params.get("DBInstanceIdentifier"))
        if inst is None or call.parsed is None:
            return
        if call.params.get("ForceFailover"):
            self._begin_failover(inst, primary_lost=False)
        else:
            self._begin_reboot(inst)
        self._describe_into(inst, call.parsed["DBInstance"])

    def _begin_reboot(self, inst: DbInstance) -> None:
        """``rebooting`` for ``rds_reboot_time`` (the endpoint refuses), then the same server serves."""
        inst.op += 1
        op = inst.op
        self._set_status(inst, "rebooting")

        def done() -> None:
            if inst.deleted or inst.op != op:
                return
            self._set_status(inst, "available")
            self._instance_event(inst, "RDS-EVENT-0006", "DB instance restarted.", "availability")

        # RDS user guide, rebooting a DB instance: a brief outage.
        self._later_for(inst, self.profile.sample("rds_reboot_time", stream=f"reboot:{inst.region}/{inst.ident}"), done, f"{inst.ident} reboot")

    def _begin_failover(self, inst: DbInstance, *, primary_lost: bool) -> None:
        """Multi-AZ failover: the endpoint refuses for ``rds_multi_az_failover``, then the standby serves."""
        assert inst.pair is not None
        inst.op += 1
        op = inst.op
        inst.failing_over = True
        self._instance_event(inst, "RDS-EVENT-0013", "Multi-AZ instance failover started.", "failover")
        if primary_lost:
            inst.pair.primary.kill()  # the host went with its AZ
        self._set_status(inst, "rebooting")
        # RDS user guide, Multi-AZ failover: typically 60-120 s.
        self._later_for(inst, self.profile.sample("rds_multi_az_failover", stream=f"failover:{inst.region}/{inst.ident}"), lambda: self._finish_failover(inst, op),
                        f"{inst.ident} failover")

    def _finish_failover(self, inst: DbInstance, op: int) -> None:
        pair = inst.pair
        if inst.deleted or inst.op != op or pair is None or pair.standby is None:
            return
        pair.failover()  # promotes the synchronous standby: no acknowledged write is lost
        inst.failing_over = False
        old_az = inst.az
        inst.az = inst.secondary_az or inst.az
        self._instance_event(inst, "RDS-EVENT-0015",
                             "Multi-AZ failover to standby complete - DNS propagation may take a few minutes.",
                             "failover")
        self._set_status(inst, "available")
        self._instance_event(inst, "RDS-EVENT-0049", "Multi-AZ instance failover completed.", "failover")
        # A new standby where the old primary was (elsewhere when that AZ is gone).
        inst.secondary_az = old_az if self.world.az_up(old_az) else self._pick_az(inst.region, {inst.az, old_az})
        try:
            pair.replace_standby(self._standby_name(inst))
        except Exception:
            log.exception("%s: could not make a new standby", inst.ident)

    def _recover_standby(self, inst: DbInstance) -> None:
        """A Multi-AZ instance that lost its standby gets a new one in another AZ."""
        pair = inst.pair
        if inst.deleted or pair is None or pair.standby is not None or not pair.primary.running:
            return
        inst.secondary_az = self._pick_az(inst.region, {inst.az, inst.secondary_az})
        pair.replace_standby(self._standby_name(inst))
        self._instance_event(inst, "RDS-EVENT-0053", "Multi-AZ instance recovery completed.", "recovery")

    def _az_lost(self, az: str) -> None:
        for inst in list(self._instances.values()):
            if inst.region != az_region(az):
                continue
            pair = inst.pair
            if pair is not None and inst.az == az:
                if inst.failing_over:
                    pair.primary.kill()  # already failing over: the old primary's host goes with the AZ
                elif pair.standby is not None and inst.secondary_az and self.world.az_up(inst.secondary_az):
                    # RDS user guide, Multi-AZ: the primary unreachable on the network -> automatic failover.
                    self._begin_failover(inst, primary_lost=True)
                    continue
            elif pair is not None and inst.secondary_az == az and pair.standby is not None:
                pair.lose_standby()
                self._instance_event(inst, "RDS-EVENT-0052", "Multi-AZ instance recovery started.", "recovery")
                # No profile key of its own: a new standby is built like a new instance.
                self._later_for(inst, self.profile.sample("rds_create_time", stream=f"standby:{inst.region}/{inst.ident}"),
                                functools.partial(self._recover_standby, inst), f"{inst.ident} standby recovery")
            self._refresh(inst)  # a Single-AZ instance in the lost AZ stays unreachable until it is back
