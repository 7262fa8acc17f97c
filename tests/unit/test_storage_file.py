"""What the file:// backend promises beyond the contract: processes, layout, bad roots."""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.storage import (
    PreconditionFailed,
    StoreMisconfigured,
    StoreUnavailable,
    open_store,
)
from shared.storage.file import FileStore

PROCESSES = 4
INCREMENTS_PER_PROCESS = 25


def _increment(root: str, times: int) -> int:
    """Child process: CAS-increment the shared counter ``times`` times."""
    store = FileStore(root)
    conflicts = 0
    for _ in range(times):
        while True:
            current = store.get("counter")
            try:
                store.put(
                    "counter", str(int(current.data) + 1).encode(), if_generation=current.generation
                )
                break
            except PreconditionFailed:
                conflicts += 1
    return conflicts


def test_processes_racing_compare_and_swap_lose_no_update(tmp_path: Path) -> None:
    """4 spawned processes increment one counter with CAS: the total is exact."""
    store = FileStore(tmp_path)
    store.put("counter", b"0")
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        pool.starmap(_increment, [(str(tmp_path), INCREMENTS_PER_PROCESS)] * PROCESSES)
    assert int(store.get("counter").data) == PROCESSES * INCREMENTS_PER_PROCESS


def _create(root: str, index: int) -> bool:
    return FileStore(root).create("winner", str(index).encode())


def test_processes_racing_create_only_have_one_winner(tmp_path: Path) -> None:
    """4 processes create the same name: exactly one succeeds."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(_create, [(str(tmp_path), i) for i in range(PROCESSES)])
    assert results.count(True) == 1
    assert FileStore(tmp_path).get("winner").data == str(results.index(True)).encode()


def test_create_and_delete_races_keep_mutual_exclusion(tmp_path: Path) -> None:
    """Threads take and release a create-only "lease"; never two holders, no lock files left."""
    store = FileStore(tmp_path)
    guard = threading.Lock()
    holders: set[int] = set()
    overlaps: list[set[int]] = []
    barrier = threading.Barrier(8)

    def contend(index: int) -> int:
        barrier.wait()
        wins = 0
        for _ in range(30):
            try:
                generation = store.put("lease", str(index).encode(), if_absent=True)
            except PreconditionFailed:
                continue
            with guard:
                holders.add(index)
                if len(holders) > 1:
                    overlaps.append(set(holders))
            wins += 1
            # While this thread holds the lease nobody else may have written it.
            assert store.get("lease").data == str(index).encode()
            with guard:
                holders.discard(index)
            store.delete("lease", if_generation=generation)
        return wins

    with ThreadPoolExecutor(8) as pool:
        wins = sum(pool.map(contend, range(8)))
    assert overlaps == []
    assert wins > 0
    assert store.get_or_none("lease") is None
    assert list((tmp_path / "locks").rglob("*.lock")) == []


def test_objects_survive_reopening_the_store(tmp_path: Path) -> None:
    """A second store on the same root reads what the first one wrote."""
    generation = FileStore(tmp_path).put("jobs/a.json", b"{}", metadata={"k": "v"})
    again = open_store(f"file://{tmp_path}").get("jobs/a.json")
    assert (again.data, again.generation, dict(again.metadata)) == (b"{}", generation, {"k": "v"})


def test_relative_urls_resolve_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """file://state/store names a directory relative to the current directory."""
    monkeypatch.chdir(tmp_path)
    open_store("file://state/store").put("x", b"1")
    assert FileStore(tmp_path / "state" / "store").get("x").data == b"1"


def test_generations_are_unique_even_for_identical_writes(tmp_path: Path) -> None:
    """Writing the same bytes twice, or after a delete, never reuses a generation."""
    store = FileStore(tmp_path)
    seen = {store.put("same", b"x")}
    seen.add(store.put("same", b"x"))
    store.delete("same")
    seen.add(store.put("same", b"x"))
    assert len(seen) == 3


def test_updated_time_comes_from_the_injected_clock(tmp_path: Path) -> None:
    """The store stamps objects with its clock, not the machine's."""
    moment = datetime(2026, 6, 27, 0, 30, tzinfo=UTC)
    store = FileStore(tmp_path, clock=lambda: moment)
    store.put("t", b"x")
    assert store.get("t").updated == moment
    assert next(store.list()).updated == moment


def test_temporary_and_lock_files_are_never_listed(tmp_path: Path) -> None:
    """Leftover temporary files and the lock files are not objects."""
    store = FileStore(tmp_path)
    store.put("dir/real", b"x")
    object_dir = next((tmp_path / "objects").iterdir())
    (object_dir / ".abandoned.tmp").write_bytes(b"half a write")
    assert [i.name for i in store.list()] == ["dir/real"]
    assert any((tmp_path / "locks").rglob("*.lock"))


def test_a_failed_precondition_writes_nothing(tmp_path: Path) -> None:
    """A losing put leaves no temporary file behind."""
    store = FileStore(tmp_path)
    store.put("k", b"1")
    with pytest.raises(PreconditionFailed):
        store.put("k", b"2", if_absent=True)
    assert [p.name for p in (tmp_path / "objects").iterdir()] == ["k.o"]


def test_delete_prunes_empty_directories(tmp_path: Path) -> None:
    """Deleting the last object under a prefix leaves no empty directories."""
    store = FileStore(tmp_path)
    store.put("a/b/c/d", b"x")
    store.delete("a/b/c/d")
    assert list((tmp_path / "objects").iterdir()) == []
    store.put("a/b/c/d", b"y")
    assert store.get("a/b/c/d").data == b"y"


def test_a_corrupt_object_file_is_reported(tmp_path: Path) -> None:
    """An object file with an unreadable header raises StoreUnavailable, not a crash."""
    store = FileStore(tmp_path)
    store.put("bad", b"x")
    (tmp_path / "objects" / "bad.o").write_bytes(b"not json\nx")
    with pytest.raises(StoreUnavailable, match="corrupt"):
        store.get("bad")


@pytest.mark.parametrize(
    "relative",
    [
        pytest.param("blocked", id="root-is-a-file"),
        pytest.param("blocked/store", id="root-below-a-file"),
    ],
)
def test_a_root_that_cannot_be_a_directory_is_misconfigured(tmp_path: Path, relative: str) -> None:
    """A regular file where the root directory should be gives a clear StoreMisconfigured."""
    (tmp_path / "blocked").write_text("a file")
    with pytest.raises(StoreMisconfigured, match="not a directory"):
        open_store(f"file://{tmp_path / relative}")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_a_read_only_root_is_misconfigured(tmp_path: Path) -> None:
    """A root the process may not write to is reported when the store opens."""
    root = tmp_path / "ro"
    FileStore(root)
    (root / "objects").chmod(0o500)
    try:
        with pytest.raises(StoreMisconfigured, match="not writable"):
            FileStore(root)
    finally:
        (root / "objects").chmod(0o700)


def test_an_empty_file_url_is_misconfigured() -> None:
    """file:// without a path names no directory."""
    with pytest.raises(StoreMisconfigured, match="names no directory"):
        open_store("file://")
