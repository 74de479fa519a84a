"""pytest-drtest: disaster-recovery testing of AWS architectures with pytest.

Public API: the fixtures (see :mod:`pytest_drtest.fixtures`), the fault catalogue
(:mod:`pytest_drtest.faults`), the clock, objectives and measurement results.
Importing this package has no side effects.
"""
from __future__ import annotations

from pytest_drtest.errors import DrConfigError, DrError, ObjectiveMissed

__all__ = ["DrConfigError", "DrError", "ObjectiveMissed", "__version__"]
__version__ = "0.1.0"
