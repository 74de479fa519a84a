"""SSM Automation on the clock: documents (schemaVersion 0.3) validated and executed.

moto (5.2.5) stores documents and has no automation executions. Layout: ``models``,
``documents`` (parsing and validation), ``variables`` (``{{ }}``, selectors, API inputs),
``steps`` (what each action does), ``automation`` (the execution on the clock), ``responses``
(the emulator); ``owned/`` holds the AWS-owned documents of the emulated world. See docs/runbooks.md.
"""
from __future__ import annotations

from pytest_drtest.emulation.ssm.documents import load_content, parse_document
from pytest_drtest.emulation.ssm.models import Document, Execution, Step, StepRun
from pytest_drtest.emulation.ssm.responses import SsmEmulator, owned_documents

__all__ = ["Document", "Execution", "SsmEmulator", "Step", "StepRun", "load_content", "owned_documents", "parse_document"]
