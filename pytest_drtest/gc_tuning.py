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

The session's end pays one full collection instead of three: restoring CPython's thresholds
triggers one, and pytest's unraisable-exception check runs ``gc.collect()`` twice more (its
``pytest_unconfigure`` and its cleanup), each walking the whole heap again (about 0.9 s apiece
after a warm-standby game day). :func:`collect_at_session_end` collects once (before the
thresholds are put back, so that no automatic collection follows), while pytest's unraisable hook
is still installed (a finalizer's exception is still reported), then freezes what survived so
that pytest's passes only look at what is new; :func:`thaw` (a cleanup registered at configure,
so it runs after pytest's) unfreezes it. Done only when nothing else froze the heap and pytest
asks for collections at all (its in-process ``pytester`` runs ask for none).
"""
from __future__ import annotations

import atexit
import gc

from pytest_drtest.errors import DrConfigError

MODES = ("tuned", "python")
TUNED_THRESHOLDS = (100_000, 50, 100)
_saved: tuple[int, int, int] | None = None
_freeze_at_exit = False
_frozen_at_session_end = False


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


def end_session(passes: int) -> None:
    """The session's end: when :func:`apply` tuned the thresholds (a harness ran, the heap is
    large), :func:`collect_at_session_end` first — before :func:`restore`, so that putting the
    thresholds back triggers no automatic collection of its own — then :func:`restore`."""
    if _saved is not None:
        collect_at_session_end(passes)
    restore()


def collect_at_session_end(passes: int) -> None:
    """One full collection, then the survivors frozen until :func:`thaw` (``passes``: how many
    collections pytest is about to run; none, nothing to spare)."""
    global _frozen_at_session_end
    if passes <= 0 or not gc.isenabled() or gc.get_freeze_count() or _frozen_at_session_end:
        return
    gc.collect()
    gc.freeze()
    _frozen_at_session_end = True


def thaw() -> None:
    """Unfreeze what :func:`collect_at_session_end` froze (nothing otherwise)."""
    global _frozen_at_session_end
    if _frozen_at_session_end:
        _frozen_at_session_end = False
        gc.unfreeze()
