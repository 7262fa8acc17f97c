"""Replaying and purging dead letters: exactly once, resolved history, dry runs, audits."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

from shared.dlq import DlqFilter, purge, replay, triage
from shared.jobs.models import Run, RunStatus
from shared.queue.base import QueueError, Task
from shared.storage.memory import MemoryStore
from tests.dlq_support import seed_dead_letters
from tests.jobs_support import RecordingQueue, make_plane


class CrashingQueue(RecordingQueue):
    """Accepts tasks, then crashes after ``crash_after`` of them (before or after accepting)."""

    def __init__(self, crash_after: int, *, accept_first: bool) -> None:
        super().__init__()
        self.crash_after = crash_after
        self.accept_first = accept_first
        self.calls = 0

    def enqueue(self, task: Task) -> bool:
        self.calls += 1
        if self.calls > self.crash_after:
            if self.accept_first:
                super().enqueue(task)
                raise RuntimeError("process killed after the task was accepted")
            raise QueueError("queue unavailable")
        return super().enqueue(task)


def _replay_runs(store: MemoryStore) -> list[Run]:
    runs = []
    for info in store.list("runs/"):
        run = Run.from_json(store.get(info.name).data)
        if run.extra.get("replay_of"):
            runs.append(run)
    return runs


def _letter(store: MemoryStore, run_id: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads(store.get(f"dlq/jobs/{run_id}.json").data)
    return doc


@pytest.mark.parametrize(
    "accept_first",
    [
        pytest.param(True, id="crash-after-enqueue"),
        pytest.param(False, id="queue-down-before-enqueue"),
    ],
)
def test_interrupted_replay_run_again_enqueues_each_run_once(accept_first: bool) -> None:
    """500 letters, replay interrupted after 250, run again: every run re-enqueued exactly once."""
    plane = make_plane()
    seeded = seed_dead_letters(plane.store, 500)
    crashing = CrashingQueue(250, accept_first=accept_first)
    plane.queue = crashing
    if accept_first:
        with pytest.raises(RuntimeError):
            replay(plane, actor="ops")
    else:
        first = replay(plane, actor="ops")
        assert first.stopped
        assert first.error is not None
        assert first.count("replayed") == 250
    # The process comes back with a healthy queue holding what was accepted so far.
    healthy = RecordingQueue()
    for task in crashing.tasks:
        healthy.enqueue(task)
    plane.queue = healthy
    second = replay(plane, actor="ops")
    assert not second.stopped
    assert second.count("replayed") == 250

    replays = _replay_runs(plane.store)
    assert Counter(run.extra["replay_of"] for run in replays) == Counter(seeded.run_ids)
    assert len(healthy.tasks) == 500
    per_run = Counter(json.loads(task.body)["run_id"] for task in healthy.tasks)
    assert set(per_run) == {run.run_id for run in replays}
    assert set(per_run.values()) == {1}
    assert all(json.loads(task.body)["attempt"] == 1 for task in healthy.tasks)
    assert all(
        run.status is RunStatus.QUEUED and run.retry_of_run_id == run.extra["replay_of"]
        for run in replays
    )
    # Every letter is kept as resolved history naming its replay run.
    replay_of = {run.extra["replay_of"]: run.run_id for run in replays}
    for run_id in seeded.run_ids:
        letter = _letter(plane.store, run_id)
        assert letter["status"] == "resolved"
        assert letter["replay"]["run_id"] == replay_of[run_id]  # type: ignore[index]
    # A third replay finds nothing left to do.
    assert replay(plane, actor="ops").matched == 0
    assert len(healthy.tasks) == 500


def test_replayed_run_carries_the_original_params_not_the_redacted_copy() -> None:
    """The new run gets the original's params (secrets intact, never shown) and job type."""
    plane = make_plane()
    seeded = seed_dead_letters(plane.store, 1)
    replay(plane, actor="ops")
    (new,) = _replay_runs(plane.store)
    original = plane.runs.get(seeded.run_ids[0]).run
    assert new.params == original.params
    assert new.params["api_key"].startswith("sk_live_")
    assert (new.job_type, new.owner, new.priority) == (
        original.job_type,
        original.owner,
        original.priority,
    )
    assert new.extra["replayed_by"] == "ops"
    assert new.extra["replayed_after_attempts"] == 1


def test_dry_run_changes_nothing() -> None:
    """--dry-run names what would be replayed and writes or enqueues nothing."""
    plane = make_plane()
    seed_dead_letters(plane.store, 8)
    before = {info.name: info.generation for info in plane.store.list("")}
    report = replay(plane, DlqFilter(job_type="http"), actor="ops", dry_run=True)
    assert report.count("would_replay") == 2
    assert {info.name: info.generation for info in plane.store.list("")} == before
    assert plane.queue.tasks == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        pytest.param(DlqFilter(job_type="email"), 3, id="job-type"),
        pytest.param(DlqFilter(code="timeout"), 2, id="code"),
        pytest.param(DlqFilter(ids=frozenset({"nope"})), 0, id="unknown-id"),
    ],
)
def test_replay_filters(selection: DlqFilter, expected: int) -> None:
    """Only letters matching the filters are replayed."""
    plane = make_plane()
    seed_dead_letters(plane.store, 12)
    assert replay(plane, selection, actor="ops").count("replayed") == expected


def test_replay_by_ids_and_missing_run() -> None:
    """Replay by ids; a letter whose run is gone is skipped with a reason and stays open."""
    plane = make_plane()
    seeded = seed_dead_letters(plane.store, 4)
    plane.store.delete(f"runs/{seeded.run_ids[1]}.json")
    report = replay(plane, DlqFilter(ids=frozenset(seeded.run_ids[:2])), actor="ops")
    assert [(i.letter_id, i.action, i.reason) for i in report.items] == [
        (seeded.run_ids[0], "replayed", None),
        (seeded.run_ids[1], "skipped", "run_missing"),
    ]
    assert _letter(plane.store, seeded.run_ids[1])["status"] == "open"


def test_rate_limit_paces_and_stop_event_ends_between_letters() -> None:
    """At 20/s, 5 replays take at least 0.2 s; a stop event ends a slow replay early."""
    plane = make_plane()
    seed_dead_letters(plane.store, 30)
    started = time.monotonic()
    report = replay(plane, actor="ops", rate=20, limit=5)
    assert report.count("replayed") == 5
    assert time.monotonic() - started >= 0.19
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    stopped = replay(plane, actor="ops", rate=10, stop=stop)
    assert stopped.stopped
    assert 1 <= stopped.count("replayed") < 25
    remaining = replay(plane, actor="ops")
    assert stopped.count("replayed") + remaining.count("replayed") == 25


def test_racing_replays_enqueue_each_run_once() -> None:
    """Two replays of the same letters at the same time: one new run and one task per letter."""
    plane = make_plane()
    seeded = seed_dead_letters(plane.store, 40)
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        replay(plane, actor="ops")

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    replays = _replay_runs(plane.store)
    assert sorted(run.extra["replay_of"] for run in replays) == sorted(seeded.run_ids)
    assert len(plane.queue.tasks) == 40  # type: ignore[attr-defined]


def test_purge_deletes_matches_and_leaves_an_audit_record() -> None:
    """Purge deletes what matches, keeps the rest, and writes dlq/audit/<time>-<id>.json."""
    store = MemoryStore()
    seeded = seed_dead_letters(store, 12)
    report = purge(store, DlqFilter(code="timeout"), actor="alice")
    assert len(report.deleted) == 2
    assert triage(store).total == 10
    assert report.audit_object is not None
    assert report.audit_object.startswith("dlq/audit/")
    audit = json.loads(store.get(report.audit_object).data)
    assert audit["actor"] == "alice"
    assert audit["status"] == "finished"
    assert audit["filters"]["code"] == "timeout"
    assert sorted(audit["deleted_ids"]) == sorted(report.deleted)
    assert set(report.deleted) <= set(seeded.run_ids)


def test_purge_dry_run_and_replaying_letters_are_kept() -> None:
    """A dry-run purge deletes nothing and writes no audit; a letter mid-replay is never purged."""
    store = MemoryStore()
    seeded = seed_dead_letters(store, 3)
    assert len(purge(store, actor="alice", dry_run=True).matched) == 3
    assert list(store.list("dlq/audit/")) == []
    name = f"dlq/jobs/{seeded.run_ids[0]}.json"
    doc = json.loads(store.get(name).data)
    store.put(name, json.dumps({**doc, "status": "replaying"}).encode())
    report = purge(store, actor="alice")
    assert len(report.deleted) == 2
    assert store.get_or_none(name) is not None
