"""The garbage collector's thresholds while emulated worlds are built and probed.

A run keeps a large, long-lived heap (botocore's service models, moto's backends, the emulation's
histories) and allocates many short-lived containers per API call; with CPython's default
thresholds (700, 10, 10) the collector walks that heap so often that it costs about a fifth of a
topology build. ``tuned`` (the default, ini ``dr_gc``) raises the first generation's threshold
to 100,000 allocations and the others to 50 and 100 (CPython's ``gc.set_threshold``; cycles are
still collected, later) when the first harness is made; ``python`` leaves the interpreter's. The
plugin puts the previous thresholds back at the end of the session.

``tuned`` also spares the exit: when the process ends, the heap is moved to the collector's
permanent generation (``gc.freeze``, from an ``atexit`` handler) so that the interpreter's
finalization does not walk it once more before freeing it — about 2 s of every ``pytest`` process
that built a world (a one-test run: 3.5 s from the session's end to the process's, 1.5 s with it).
Nothing is frozen while the process runs on (an in-process ``pytester`` session, a notebook).
"""
from __future__ import annotations

import atexit
import gc

from pytest_drtest.errors import DrConfigError

MODES = ("tuned", "python")
TUNED_THRESHOLDS = (100_000, 50, 100)
_saved: tuple[int, int, int] | None = None
_freeze_at_exit = False


def check_mode(value: str) -> str:
    """``value`` if it is a mode of ``dr_gc``; a :class:`DrConfigError` naming the key otherwise."""
    if value not in MODES:
        raise DrConfigError(f"dr_gc: expected one of {', '.join(MODES)}, got {value!r}")
    return value


def apply(mode: str) -> None:
    """Raise the thresholds (``tuned``), once per process until :func:`restore`."""
    global _saved, _freeze_at_exit
    if check_mode(mode) != "tuned" or _saved is not None:
        return
    _saved = gc.get_threshold()
    gc.set_threshold(*TUNED_THRESHOLDS)
    if not _freeze_at_exit:
        _freeze_at_exit = True
        atexit.register(gc.freeze)


def restore() -> None:
    """Put back the thresholds :func:`apply` replaced (nothing if it did not)."""
    global _saved
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None
