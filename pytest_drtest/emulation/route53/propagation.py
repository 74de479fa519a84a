"""Change propagation: a change is ``PENDING`` until ``INSYNC``, and only then does DNS serve it.

[BC:route53] ChangeInfo: ``Status`` becomes ``INSYNC`` once every authoritative name server has
the change, usually within 60 s (``route53_change_propagation``); changes to one zone land in
order. moto answers ``INSYNC`` at once.
"""
from __future__ import annotations

import string
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.core import AwsError, Call
from pytest_drtest.emulation.route53.models import Change, Route53Model, strip_id


class ChangePropagation(Route53Model):
    """``ChangeResourceRecordSets``, ``CreateHostedZone`` and ``GetChange`` on the clock."""

    def before_ChangeResourceRecordSets(self, call: Call) -> None:
        """Keep what the DNS serves now; reject records naming unknown health checks ([BC:route53] NoSuchHealthCheck)."""
        zone_id = strip_id(call.params["HostedZoneId"], "/hostedzone/")
        for change in call.params.get("ChangeBatch", {}).get("Changes", []):
            check_id = change.get("ResourceRecordSet", {}).get("HealthCheckId")
            if check_id and change.get("Action") != "DELETE" and check_id not in self._checks:
                try:
                    self.backdoor("us-east-1").get_health_check(HealthCheckId=check_id)
                except botocore.exceptions.ClientError:
                    raise AwsError("NoSuchHealthCheck", "No health check exists with the specified ID.", 404) from None
        try:
            self._records(zone_id)
        except botocore.exceptions.ClientError:
            return  # unknown zone: moto answers NoSuchHostedZone
        return

    def after_ChangeResourceRecordSets(self, call: Call) -> None:
        """PENDING until the modeled propagation ends; the DNS view switches at INSYNC."""
        assert call.parsed is not None
        zone_id = strip_id(call.params["HostedZoneId"], "/hostedzone/")
        # The zone right after this change: installed at its INSYNC time. Reading it now (not at
        # INSYNC) keeps a later change from showing through early when two are in flight.
        snapshot = self._live_records(zone_id)
        change = self._new_change(zone_id, call.params.get("ChangeBatch", {}).get("Comment"))
        call.parsed["ChangeInfo"] = self._change_info(change)
        self.at(change.insync_at, lambda: self._sync(change, snapshot), name=f"route53 {change.change_id}")

    def after_CreateHostedZone(self, call: Call) -> None:
        assert call.parsed is not None
        self._zones = None
        zone_id = strip_id(call.parsed["HostedZone"]["Id"], "/hostedzone/")
        change = self._new_change(zone_id, None)
        call.parsed["ChangeInfo"] = self._change_info(change)
        self.at(change.insync_at, lambda: self._sync(change, None))

    def after_DeleteHostedZone(self, call: Call) -> None:
        self._zones = None
        self._views.pop(strip_id(call.params["Id"], "/hostedzone/"), None)

    def after_GetChange(self, call: Call) -> None:
        """PENDING until the change's INSYNC time on the clock (moto: always INSYNC)."""
        assert call.parsed is not None
        change = self._changes.get(strip_id(call.params["Id"], "/change/"))
        if change is not None:
            call.parsed["ChangeInfo"] = self._change_info(change)

    # -- changes ----------------------------------------------------------------------------
    def _new_change(self, zone_id: str, comment: str | None) -> Change:
        """A change id like AWS's, and its INSYNC time: in order per zone. [BC:route53] ChangeInfo"""
        now = self.clock.now()
        rng = self.profile.rng("route53.change_ids")
        change_id = "C" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(20))
        insync_at = max(
            now + self.profile.sample("route53_change_propagation", stream=f"change:{self._zone_table().get(zone_id, (zone_id, False))[0]}"),
            self._last_insync.get(zone_id, now),
        )
        self._last_insync[zone_id] = insync_at
        change = Change(change_id, zone_id, now, insync_at, comment)
        self._changes[change_id] = change
        return change

    def _change_info(self, change: Change) -> dict[str, Any]:
        info: dict[str, Any] = {
            "Id": f"/change/{change.change_id}",
            "Status": "INSYNC" if change.insync else "PENDING",
            "SubmittedAt": self.clock.datetime(change.submitted_at),
        }
        if change.comment:
            info["Comment"] = change.comment
        return info

    def _sync(self, change: Change, snapshot: list[dict[str, Any]] | None) -> None:
        change.insync = True
        if snapshot is not None:
            self._views[change.zone_id] = snapshot
