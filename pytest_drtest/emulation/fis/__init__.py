"""AWS FIS on the clock: templates validated, targets resolved, actions run and reverted.

moto (5.2.5) stores templates and walks an experiment's states without touching its targets.
Layout: ``models`` (the action catalogue, states, the experiment), ``templates`` (validation),
``targets`` (resolution), ``actions`` (what each action does), ``experiments`` (the sequence on
the clock), ``responses`` (the emulator). See docs/fis.md.
"""
from __future__ import annotations

from pytest_drtest.emulation.fis.models import (
    ACTIONS,
    MODELED,
    NOT_MODELED,
    ActionRun,
    Experiment,
    ResolvedResource,
)
from pytest_drtest.emulation.fis.responses import FisEmulator
from pytest_drtest.emulation.fis.templates import validate_template

__all__ = ["ACTIONS", "MODELED", "NOT_MODELED", "ActionRun", "Experiment", "FisEmulator", "ResolvedResource", "validate_template"]
