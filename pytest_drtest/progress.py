"""Progress of a running experiment: its phases on the modeled clock, shown while pytest runs.

:class:`PhaseTracker` turns what a harness sees into :class:`PhaseEvent` s: its own steps
(building, steady state, restore checks, the recorded result), the timeline's milestones (the
fault, a runbook's ``detected`` and its failover steps) and the probes' samples (the first failure
after the fault, then the first of N successes in a row). :class:`Progress` shows them: a line per
phase under ``-v``; on a terminal otherwise, one status line rewritten in place and cleared when the
item ends; nothing under ``-q``, when the output is not a terminal, or on a pytest-xdist worker.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pytest_drtest.durations import format_duration
from pytest_drtest.measure import Milestone, Sample

PHASES = ("building", "steady state", "fault", "detection", "failover", "recovered", "restore checks")
_ONCE_PER_FAULT = ("detection", "recovered")
_BUILDING_MILESTONES = {"topology-built": "topology built", "ready": "every Auto Scaling group InService"}


@dataclass(frozen=True)
class PhaseEvent:
    """One step of an experiment at clock time ``t``; ``new`` when it enters another phase."""

    phase: str
    t: float
    detail: str = ""
    new: bool = True


def clock_text(t: float) -> str:
    """Clock seconds as ``HH:MM:SS`` (hours past 24 keep counting)."""
    whole = max(0, int(t))
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class _Probe(Protocol):
    samples: list[Sample]
    consecutive: int


@dataclass
class _ProbeWatch:
    seen: int = 0  # samples looked at
    failed: bool = False  # a sample failed since the fault
    good: int = 0  # successes in a row since the last failure
    good_from: float = 0.0


@dataclass
class PhaseTracker:
    """The phase events of one harness; ``observers`` get each of them (from any thread)."""

    observers: list[Callable[[PhaseEvent], None]] = field(default_factory=list)
    _last: str | None = None
    _done: set[str] = field(default_factory=set)
    _fault_t: float | None = None
    _watches: dict[int, _ProbeWatch] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def emit(self, phase: str, t: float, detail: str = "", *, new_fault: bool = True) -> None:
        """Tell the observers; detection and recovery count once per fault (``new_fault=False``: a
        ``fault`` event that starts none, such as a revert)."""
        with self._lock:
            if phase in _ONCE_PER_FAULT:
                if phase in self._done:
                    return
                self._done.add(phase)
            if phase == "fault" and new_fault:
                self._done.clear()
                if self._fault_t is None:
                    self._fault_t = t
            event = PhaseEvent(phase, t, detail, new=phase != self._last)
            self._last = phase
            for observer in list(self.observers):
                observer(event)

    def milestone(self, milestone: Milestone) -> None:
        """A timeline milestone (the timeline's observer)."""
        kind, detail = milestone.kind, milestone.detail
        if kind == "fault":
            self.emit("fault", milestone.t, detail)
        elif self._fault_t is None:
            if kind in _BUILDING_MILESTONES:
                self.emit("building", milestone.t, _BUILDING_MILESTONES[kind])
        elif kind == "detected":
            self.emit("detection", milestone.t, detail)
        elif kind == "fault-reverted":  # the fault's end, not a recovery step
            self.emit("fault", milestone.t, f"reverted: {detail}", new_fault=False)
        else:
            label = kind.replace("-", " ")
            self.emit("failover", milestone.t, f"{label}: {detail}" if detail else label)

    def samples(self, probes: Sequence[_Probe]) -> None:
        """Look at the probes' new samples (called as the clock moves)."""
        fault_t = self._fault_t
        if fault_t is None:
            return
        with self._lock:
            for probe in probes:
                watch = self._watches.setdefault(id(probe), _ProbeWatch())
                new = probe.samples[watch.seen:]
                watch.seen += len(new)
                for sample in new:
                    if sample.t < fault_t:
                        continue
                    if not sample.ok:
                        watch.failed, watch.good = True, 0
                        self.emit("detection", sample.t, "first failed probe")
                    elif watch.failed:
                        watch.good += 1
                        if watch.good == 1:
                            watch.good_from = sample.t
                        if watch.good == probe.consecutive:
                            self.emit("recovered", watch.good_from,
                                      f"RTO {format_duration(watch.good_from - fault_t)} ({probe.consecutive} good probes in a row)")


class Progress:
    """Shows the phase events of the item that runs (see the module docstring for where)."""

    def __init__(self, mode: str, terminal: Any, capture: Any = None) -> None:
        if mode not in ("lines", "status"):
            raise ValueError(f"progress mode {mode!r}: expected 'lines' or 'status'")
        self.mode = mode
        self.terminal = terminal
        self.capture = capture
        self._name = ""
        self._owner: int | None = None
        self._pending: list[PhaseEvent] = []
        self._lines = 0
        self._status_shown = False
        self._lock = threading.RLock()

    @classmethod
    def for_config(cls, config: Any) -> Progress | None:
        """The progress of this pytest run, or None where it shows nothing."""
        if hasattr(config, "workerinput"):  # a pytest-xdist worker: its output goes nowhere useful
            return None
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None:
            return None
        capture = config.pluginmanager.get_plugin("capturemanager")
        verbosity = int(config.getoption("verbose") or 0)
        if verbosity > 0:
            return cls("lines", terminal, capture)
        if verbosity < 0 or not terminal.isatty or os.environ.get("TERM") == "dumb":
            return None
        if config.getoption("capture", "fd") == "no" or _ini_true(config, "log_cli"):
            return None  # the test's own output and live logs share the line: no status line
        return cls("status", terminal, capture)

    # -- one item ---------------------------------------------------------------------------------
    def start(self, name: str) -> Callable[[PhaseEvent], None]:
        """The observer of the item ``name`` (``<scenario>::<experiment>`` or a test id)."""
        with self._lock:
            self._pending = []  # late events of an earlier item's threads: not this item's
            self.finish()
            self._name = name
            self._owner = threading.get_ident()
            self._lines = 0
        return self.show

    def show(self, event: PhaseEvent) -> None:
        """Show ``event`` (events of other threads wait for the item's thread)."""
        with self._lock:
            self._pending.append(event)
            if threading.get_ident() != self._owner:
                return
            pending, self._pending = self._pending, []
        try:
            if self.mode == "lines":
                text = "".join(self._line(e) for e in pending if e.new)
                if text:
                    self._write(("\n" if self._lines == 0 else "") + text, tracked=True)
                    self._lines += 1
            else:
                self._status(pending[-1])
        except (OSError, ValueError):  # a closed or broken terminal never fails a test
            pass

    def finish(self) -> None:
        """Show what waits, clear the status line (before pytest writes the item's outcome)."""
        with self._lock:
            pending, self._pending = self._pending, []
            try:
                if pending and self.mode == "lines":
                    text = "".join(self._line(e) for e in pending if e.new)
                    if text:
                        self._write(("\n" if self._lines == 0 else "") + text, tracked=True)
                        self._lines += 1
                if self._status_shown:
                    self._write("\x1b[K", tracked=False)
                    self._status_shown = False
            except (OSError, ValueError):
                pass

    # -- rendering ----------------------------------------------------------------------------------
    @staticmethod
    def _line(event: PhaseEvent) -> str:
        return f"    drtest {clock_text(event.t)}  {event.phase:<14} {event.detail}".rstrip() + "\n"

    def _status(self, event: PhaseEvent) -> None:
        writer = getattr(self.terminal, "_tw", None)
        if writer is None:
            return
        room = int(writer.fullwidth) - int(writer.width_of_current_line) - 2
        text = f"[drtest {clock_text(event.t)} {event.phase}" + (f": {event.detail}" if event.detail else "")
        text += f" ({self._name})" if self._name else ""  # cut first when the line is short
        if room < 24:
            return
        text = (text[: room - 4] + "...]") if len(text) + 1 > room else text + "]"
        # save the cursor, write after it, clear the rest of the line, go back: pytest's own
        # output (the dots) goes on where it stopped
        self._write(f"\x1b7 {text}\x1b[K\x1b8", tracked=False)
        self._status_shown = True

    def _write(self, text: str, *, tracked: bool) -> None:
        with self._terminal():
            if tracked:  # through the reporter: it knows where its line stands
                self.terminal.write(text, flush=True)
            else:  # escape sequences that move nothing pytest counts
                self.terminal.write_raw(text, flush=True)

    @contextlib.contextmanager
    def _terminal(self) -> Iterator[None]:
        if self.capture is None:
            yield
            return
        with self.capture.global_and_fixture_disabled():
            yield


def _ini_true(config: Any, name: str) -> bool:
    try:
        value = config.getini(name)
    except (ValueError, KeyError):
        return False
    return bool(value) and str(value).lower() not in ("0", "false", "no", "off")
