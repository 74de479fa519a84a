"""Amazon Data Lifecycle Manager: EBS snapshot policies on the clock, cross-Region copies, retention.

What moto does (moto 5.2.5): there is no DLM at all (no ``moto/dlm``); EC2 snapshots are
``completed`` at once and a ``CopySnapshot`` copy keeps the source's encryption whatever
``Encrypted`` says. This package answers the DLM API (``responses``), checks policies as AWS does
(``models``) and runs enabled policies on the clock (``lifecycle``): snapshots of the targeted
volumes (or instances' volumes) within an hour of each scheduled time, tagged as AWS tags them,
``pending`` for the modeled time, copied to the copy rules' Regions, and deleted by count or age.
"""
from __future__ import annotations

from pytest_drtest.emulation.dlm.models import (
    EXPIRATION_TAG,
    MANAGED_TAG,
    POLICY_ID_TAG,
    SCHEDULE_NAME_TAG,
    ManagedSnapshot,
    Policy,
)
from pytest_drtest.emulation.dlm.responses import (
    DlmEmulator,
    DlmSnapshotView,
    install_dlm,
)

__all__ = [
    "EXPIRATION_TAG",
    "MANAGED_TAG",
    "POLICY_ID_TAG",
    "SCHEDULE_NAME_TAG",
    "DlmEmulator",
    "DlmSnapshotView",
    "ManagedSnapshot",
    "Policy",
    "install_dlm",
]
