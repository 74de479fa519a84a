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
