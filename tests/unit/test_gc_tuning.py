"""The collector's thresholds: raised once by a harness, put back by restore, a bad mode named."""
from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

import pytest

from pytest_drtest import gc_tuning
from pytest_drtest.errors import DrConfigError


def test_apply_raises_the_thresholds_once_and_restore_puts_the_previous_back() -> None:
    gc_tuning.restore()
    gc.set_threshold(700, 10, 10)
    gc_tuning.apply("tuned")
    assert gc.get_threshold() == gc_tuning.TUNED_THRESHOLDS
    gc.set_threshold(1000, 10, 10)  # changed meanwhile: a second apply does not save it as "previous"
    gc_tuning.apply("tuned")
    gc_tuning.restore()
    assert gc.get_threshold() == (700, 10, 10)
    gc_tuning.apply("python")
    assert gc.get_threshold() == (700, 10, 10)


def test_an_unknown_mode_names_the_ini_key() -> None:
    with pytest.raises(DrConfigError, match=r"dr_gc: expected one of tuned, python, got 'fast'"):
        gc_tuning.apply("fast")


@pytest.mark.parametrize(("mode", "frozen"), [("tuned", True), ("python", False)])
def test_tuned_freezes_the_heap_only_when_the_process_exits(mode: str, frozen: bool) -> None:
    code = textwrap.dedent(f"""
        import atexit, gc
        atexit.register(lambda: print("at exit", gc.get_freeze_count() > 0))  # runs after the plugin's
        from pytest_drtest import gc_tuning
        gc_tuning.apply({mode!r})
        gc_tuning.restore()
        print("running", gc.get_freeze_count())
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split("\n")[:2] == ["running 0", f"at exit {frozen}"]


def test_the_session_end_collects_once_then_freezes_until_thawed() -> None:
    gc_tuning.thaw()
    assert gc.get_freeze_count() == 0
    gc_tuning.collect_at_session_end(0)  # pytest runs no collection (its in-process pytester runs)
    assert gc.get_freeze_count() == 0
    try:
        gc_tuning.collect_at_session_end(1)
        assert gc.get_freeze_count() > 0  # what pytest's passes walk now: only what is newer
    finally:
        gc_tuning.thaw()
    assert gc.get_freeze_count() == 0


def test_a_heap_frozen_by_someone_else_is_left_as_it_is() -> None:
    gc.freeze()
    try:
        gc_tuning.collect_at_session_end(1)
        gc_tuning.thaw()
        assert gc.get_freeze_count() > 0  # not unfrozen by the plugin (a frozen object may be freed meanwhile)
    finally:
        gc.unfreeze()


def test_a_finalizer_error_of_a_cycle_is_still_reported_by_pytest(pytester: pytest.Pytester) -> None:
    """The one collection runs while pytest's unraisable hook is installed: the error is not lost."""
    pytester.makepyfile(test_cycle="""
        from pytest_drtest import gc_tuning

        class Boom:
            def __del__(self):
                raise RuntimeError("finalizer of a cycle")

        def test_leaves_a_cycle():
            gc_tuning.apply("tuned")  # as a harness does: the session's end collects once and freezes
            boom = Boom()
            boom.me = boom
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "always")
    result.assert_outcomes(passed=1)
    assert "RuntimeError: finalizer of a cycle" in result.stdout.str() + result.stderr.str()
