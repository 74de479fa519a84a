"""ARC Region switch plans on the clock (moto has no such service; botocore has its model).

Layout: ``plans`` (the CloudFormation form and validation), ``models``, ``blocks`` (what each
execution block does), ``execution`` (the plan execution on the clock), ``responses`` (the
emulator, answering every operation). See docs/runbooks.md.
"""
from __future__ import annotations

from pytest_drtest.emulation.arc_region_switch.models import Plan, PlanExecution
from pytest_drtest.emulation.arc_region_switch.plans import (
    MODELED_BLOCKS,
    plan_from_cloudformation,
    validate_plan,
)
from pytest_drtest.emulation.arc_region_switch.responses import ArcRegionSwitchEmulator

__all__ = ["MODELED_BLOCKS", "ArcRegionSwitchEmulator", "Plan", "PlanExecution", "plan_from_cloudformation", "validate_plan"]
