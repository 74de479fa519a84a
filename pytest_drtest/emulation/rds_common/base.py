"""The base of the two emulators of botocore's ``rds`` service: events and the data plane."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_drtest.emulation.core import Call, Emulation, ServiceEmulator
from pytest_drtest.emulation.rds_common.events import RdsEvent, RdsEventLog, event_log

if TYPE_CHECKING:
    from pytest_drtest.dataplane import DataPlane


class RdsFamilyEmulator(ServiceEmulator):
    """What the DB instance and Aurora emulators share.

    Both serve the ``rds`` service: the hub asks them in the order they were added, so each
    answers only for the resources it owns. Their events go to one :class:`RdsEventLog`.
    """

    service = "rds"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self.events: RdsEventLog = event_log(emulation)

    @property
    def plane(self) -> DataPlane:
        """The run's PostgreSQL servers; raises ``DataPlaneUnavailable`` (saying what to install)."""
        return self.emulation.dataplane  # type: ignore[no-any-return]

    def _event(self, region: str, source_id: str, source_type: str, event_id: str, message: str,
               *categories: str) -> RdsEvent:
        return self.events.record(region, source_id, source_type, event_id, message, categories)

    def before_DescribeEvents(self, call: Call) -> dict[str, Any]:
        """Events of both RDS emulators, with clock times (moto logs creation events in wall time)."""
        return {"Events": self.events.describe(call.region, call.params)}
