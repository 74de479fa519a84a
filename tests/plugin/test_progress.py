"""Progress while an experiment runs: phase lines under -v, a status line on a terminal, else nothing."""
from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_drtest.measure import Milestone, Sample
from pytest_drtest.progress import PhaseEvent, PhaseTracker, Progress, clock_text

pytest_plugins = ["pytester"]

#: A dr test whose service (a path of its own, no topology: fast) is down for a minute after the fault.
FLAKY_TEST = '''
import pytest
from pytest_drtest.probes import AppUnavailable


class Flaky:
    def __init__(self, clock):
        self.clock, self.down, self.data = clock, (0.0, 0.0), {}

    def _check(self):
        if self.down[0] <= self.clock.now() < self.down[1]:
            raise AppUnavailable("the service is down")

    def put(self, key, payload):
        self._check()
        self.data[key] = payload
        return "us-east-1"

    def get(self, key):
        self._check()
        return "us-east-1", self.data.get(key)

    def read_all(self, keys):
        return "us-east-1", {key: self.data.get(key) for key in keys}

    def close(self):
        pass


@pytest.mark.dr(rto="5m", rpo="1m")
def test_the_service_comes_back(dr):
    service = Flaky(dr.clock)
    with dr.probe(path=service, interval="10s", consecutive=2) as probe:
        dr.clock.sleep("1m")
        dr.mark_fault("the service stops")
        service.down = (dr.clock.now(), dr.clock.now() + 60)
        assert probe.wait_recovered(within="10m")
    dr.assert_objectives(probe.result())
'''

PHASE_LINE = "    drtest ??:??:??  *"


def phase_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("    drtest ")]


# -- in a pytest run ----------------------------------------------------------------------------------
def test_verbose_runs_print_a_line_per_phase_with_the_modeled_clock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_flaky=FLAKY_TEST)
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "test_flaky.py::test_the_service_comes_back ",
        "    drtest 00:00:00  steady state   probing every 10.0s",
        "    drtest 00:01:00  fault          the service stops",
        "    drtest 00:01:09  detection      first failed probe",
        "    drtest 00:02:09  recovered      RTO 1m10s (2 good probes in a row)",
        "PASSED*",
    ])
    assert len(phase_lines(result.stdout.str())) == 4  # a line per phase, not per probe tick


@pytest.mark.parametrize("args", [["-q"], []], ids=["quiet", "not-a-terminal"])
def test_quiet_runs_and_runs_off_a_terminal_print_nothing_extra(pytester: pytest.Pytester, args: list[str]) -> None:
    pytester.makepyfile(test_flaky=FLAKY_TEST)
    result = pytester.runpytest(*args, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert phase_lines(output) == [] and "\x1b" not in output and "[drtest " not in output


def test_on_a_terminal_one_status_line_is_rewritten_in_place_and_cleared(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_flaky=FLAKY_TEST)
    output = run_on_a_terminal([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_flaky.py"], pytester.path)
    assert "1 passed" in output
    shown = [part.split("\x1b[K")[0] for part in output.split("\x1b7")[1:]]
    item = "(test_flaky.py::test_the_service_comes_back)"
    assert shown == [
        f" [drtest 00:00:00 steady state: probing every 10.0s {item}]",
        f" [drtest 00:01:00 fault: the service stops {item}]",
        f" [drtest 00:01:09 detection: first failed probe {item}]",
        f" [drtest 00:02:09 recovered: RTO 1m10s (2 good probes in a row) {item}]",
    ]
    after = output.rsplit("\x1b8", 1)[1]
    assert after.startswith("\x1b[K.")  # cleared before pytest writes the outcome, which goes where it stopped
    assert phase_lines(output) == []


def run_on_a_terminal(argv: list[str], cwd: Path, timeout: float = 120) -> str:
    """Run ``argv`` with a pseudo-terminal as its stdout; return everything it wrote."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "200", "PYTEST_ADDOPTS": ""}
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        os.close(leader)
    return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


# -- the pieces --------------------------------------------------------------------------------------------
def test_phases_come_from_milestones_and_probe_samples_once_per_fault() -> None:
    seen: list[PhaseEvent] = []
    tracker = PhaseTracker([seen.append])
    probe = _Probe(consecutive=2)
    tracker.milestone(Milestone(5.0, "topology-built", "dr-x"))
    tracker.emit("steady state", 10.0, "probing every 1.0s")
    probe.samples += [Sample(10.0, True, True), Sample(11.0, True, True)]
    tracker.samples([probe])  # before the fault: nothing to say
    tracker.milestone(Milestone(12.0, "fault", "region-outage(primary)"))
    probe.samples += [Sample(13.0, False, False), Sample(14.0, False, True)]
    tracker.samples([probe])
    tracker.milestone(Milestone(40.0, "detected", "health check failing"))  # the probes said so first
    tracker.milestone(Milestone(50.0, "dns-switched", "www -> dr"))
    tracker.milestone(Milestone(55.0, "scaled", "dr-asg at 3"))
    probe.samples += [Sample(60.0, True, True), Sample(61.0, False, False), Sample(62.0, True, True), Sample(63.0, True, True)]
    tracker.samples([probe])
    tracker.emit("recovered", 62.0, "RTO 50.0s, from the result")  # once per fault: dropped
    tracker.milestone(Milestone(70.0, "fault-reverted", "region-outage(primary)"))  # the fault's end, not a failover step
    probe.samples += [Sample(71.0, False, False), Sample(72.0, True, True), Sample(73.0, True, True)]
    tracker.samples([probe])  # the same fault: no second detection or recovery
    assert [(e.phase, e.t, e.new) for e in seen] == [
        ("building", 5.0, True), ("steady state", 10.0, True), ("fault", 12.0, True), ("detection", 13.0, True),
        ("failover", 50.0, True), ("failover", 55.0, False), ("recovered", 62.0, True), ("fault", 70.0, True),
    ]
    assert seen[4].detail == "dns switched: www -> dr" and seen[6].detail == "RTO 50.0s (2 good probes in a row)"
    assert seen[7].detail == "reverted: region-outage(primary)"


class _Probe:
    def __init__(self, consecutive: int) -> None:
        self.samples: list[Sample] = []
        self.consecutive = consecutive


class _Writer:
    fullwidth = 60
    width_of_current_line = 20


class _Terminal:
    """What Progress uses of pytest's terminal reporter."""

    def __init__(self) -> None:
        self.out = io.StringIO()
        self._tw = _Writer()

    def write(self, text: str, flush: bool = False) -> None:
        self.out.write(text)

    def write_raw(self, text: str, flush: bool = False) -> None:
        self.out.write(text)


def test_the_status_line_fits_after_the_dots_and_events_of_other_threads_wait() -> None:
    import threading

    terminal = _Terminal()
    progress = Progress("status", terminal)
    show = progress.start("warm-standby::region-outage")
    show(PhaseEvent("fault", 3600.0, "region-outage(primary)"))
    other = threading.Thread(target=show, args=(PhaseEvent("detection", 3630.0, "first failed probe"),))
    other.start()
    other.join()
    written = terminal.out.getvalue()
    assert written == "\x1b7 [drtest 01:00:00 fault: region-out...]\x1b[K\x1b8"
    assert len(written.split("\x1b7 ")[1].split("\x1b[K")[0]) == 60 - 20 - 2  # never wraps the line
    progress.finish()
    assert terminal.out.getvalue() == written + "\x1b[K"  # the other thread's event was not written from there


def test_lines_start_on_a_line_of_their_own() -> None:
    terminal = _Terminal()
    show = Progress("lines", terminal).start("t")
    show(PhaseEvent("fault", 90061.0, "x"))
    show(PhaseEvent("failover", 90062.0, "dns switched", new=True))
    show(PhaseEvent("failover", 90063.0, "scaled", new=False))  # the same phase goes on: no new line
    assert terminal.out.getvalue() == "\n    drtest 25:01:01  fault          x\n    drtest 25:01:02  failover       dns switched\n"
    assert clock_text(-1) == "00:00:00"


def test_where_progress_shows(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfigure("-q")
    assert Progress.for_config(config) is None
    config = pytester.parseconfigure("-v")
    progress = Progress.for_config(config)
    assert progress is not None and progress.mode == "lines"
    config = pytester.parseconfigure()
    assert Progress.for_config(config) is None  # pytester's output is not a terminal
    config.workerinput = {"workerid": "gw0"}  # type: ignore[attr-defined]
    config.option.verbose = 1
    assert Progress.for_config(config) is None  # xdist workers print nothing
