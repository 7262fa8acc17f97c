"""Run records, legal transitions, the run store's compare-and-swap and queue-depth counting."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.jobs.backpressure import QueueDepth, shed_threshold
from shared.jobs.models import (
    LEGAL_TRANSITIONS,
    Attempt,
    AttemptOutcome,
    IllegalTransition,
    Lease,
    Run,
    RunStatus,
    check_transition,
    new_run_id,
)
from shared.jobs.store import RunStore
from shared.storage import PreconditionFailed
from shared.storage.memory import MemoryStore

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def a_run(status: RunStatus = RunStatus.QUEUED, run_id: str | None = None) -> Run:
    return Run(
        run_id=run_id or new_run_id(T0),
        job_type="noop",
        params={"a": [1, 2]},
        owner="alice",
        status=status,
        created_at=T0,
        updated_at=T0,
    )


def test_a_run_survives_a_json_round_trip() -> None:
    """Every field, attempts and lease included, reads back equal."""
    run = a_run(RunStatus.RUNNING)
    run = run.evolve(
        T0,
        attempts=(
            Attempt(1, T0, T0, AttemptOutcome.TIMEOUT, "timeout", "slow", "w1"),
            Attempt(2, T0, worker="w2"),
        ),
        lease=Lease("w2:x", T0 + timedelta(seconds=60)),
        result={"n": 1},
        idempotency_key="k",
        retry_of_run_id="r0",
        scheduled_at=T0,
        extra={"approved_by": "bob"},
    )
    assert Run.from_json(run.to_json()) == run


@pytest.mark.parametrize(
    ("current", "wanted", "legal"),
    [
        pytest.param(RunStatus.QUEUED, RunStatus.RUNNING, True, id="claim"),
        pytest.param(RunStatus.WAITING_APPROVAL, RunStatus.QUEUED, True, id="approve"),
        pytest.param(RunStatus.RUNNING, RunStatus.QUEUED, True, id="retry"),
        pytest.param(RunStatus.RUNNING, RunStatus.WAITING_APPROVAL, True, id="escalate"),
        pytest.param(RunStatus.WAITING_APPROVAL, RunStatus.RUNNING, False, id="skip-approval"),
        pytest.param(RunStatus.SUCCEEDED, RunStatus.QUEUED, False, id="reopen-success"),
        pytest.param(RunStatus.FAILED, RunStatus.RUNNING, False, id="rerun-failure"),
        pytest.param(RunStatus.CANCELLED, RunStatus.CANCELLED, False, id="cancel-twice"),
        pytest.param(RunStatus.QUEUED, RunStatus.SUCCEEDED, False, id="succeed-unrun"),
    ],
)
def test_transitions(current: RunStatus, wanted: RunStatus, legal: bool) -> None:
    """Only the lifecycle's arrows are legal; final states have none."""
    if legal:
        check_transition("r", current, wanted)
    else:
        with pytest.raises(IllegalTransition):
            check_transition("r", current, wanted)


def test_final_states_have_no_way_out() -> None:
    """SUCCEEDED, FAILED and CANCELLED allow no transition at all."""
    assert all(not LEGAL_TRANSITIONS[s] for s in RunStatus if s.final)


def test_run_ids_sort_by_creation_time() -> None:
    """Ids of later runs sort after earlier ones (microsecond resolution)."""
    ids = [new_run_id(T0 + timedelta(microseconds=n)) for n in range(0, 3000, 7)]
    assert ids == sorted(ids)


def test_an_illegal_replace_writes_nothing() -> None:
    """replace() checks the transition before the write: the stored run is unchanged."""
    runs = RunStore(MemoryStore())
    stored = runs.create(a_run(RunStatus.SUCCEEDED))
    with pytest.raises(IllegalTransition):
        runs.replace(stored, stored.run.evolve(T0, status=RunStatus.QUEUED))
    assert runs.get(stored.run.run_id).generation == stored.generation


def test_compare_and_swap_admits_one_writer_of_many() -> None:
    """Twenty threads claim the same QUEUED run from the same read: exactly one write wins."""
    runs = RunStore(MemoryStore())
    stored = runs.create(a_run())
    wins: list[str] = []
    start = threading.Barrier(20)

    def claim(n: int) -> None:
        start.wait()
        try:
            runs.replace(stored, stored.run.evolve(T0, status=RunStatus.RUNNING, owner=f"w{n}"))
            wins.append(f"w{n}")
        except PreconditionFailed:
            pass

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert runs.get(stored.run.run_id).run.owner == wins[0]


def test_update_re_decides_on_the_newer_run_after_a_conflict() -> None:
    """update() re-reads on conflict and calls the change again with the winner's run."""
    runs = RunStore(MemoryStore())
    stored = runs.create(a_run())
    runs.replace(stored, stored.run.evolve(T0, status=RunStatus.CANCELLED))
    seen: list[RunStatus] = []

    def change(run: Run) -> Run | None:
        seen.append(run.status)
        return None if run.status.final else run.evolve(T0, status=RunStatus.RUNNING)

    result, wrote = runs.update(stored.run.run_id, change, current=stored)
    assert seen == [RunStatus.QUEUED, RunStatus.CANCELLED]
    assert not wrote
    assert result.run.status is RunStatus.CANCELLED


def test_queue_depth_counts_from_listing_metadata_and_caches() -> None:
    """Counts come from listing metadata (no reads), are cached for the TTL, then refreshed."""
    store = MemoryStore()
    runs = RunStore(store)
    now = [0.0]
    depth = QueueDepth(runs, ttl_ms=1000, monotonic=lambda: now[0])
    for n, status in enumerate(
        [RunStatus.SUCCEEDED, RunStatus.QUEUED, RunStatus.QUEUED, RunStatus.WAITING_APPROVAL]
    ):
        runs.create(a_run(status, run_id=new_run_id(T0 + timedelta(seconds=n))))
    counts = depth.counts()
    assert (counts[RunStatus.QUEUED], counts[RunStatus.WAITING_APPROVAL]) == (2, 1)
    runs.create(a_run(run_id=new_run_id(T0 + timedelta(seconds=9))))
    assert depth.queued() == 2  # cached
    now[0] += 1.5
    assert depth.queued() == 3


@pytest.mark.parametrize(
    ("queued", "error_rate", "threshold"),
    [
        pytest.param(50, 0.0, 0, id="under-limits"),
        pytest.param(150, 0.0, 5, id="over-queue-limit"),
        pytest.param(50, 0.6, 5, id="over-error-limit"),
        pytest.param(250, 0.0, 9, id="twice-the-queue-limit"),
    ],
)
def test_shedding_thresholds(queued: int, error_rate: float, threshold: int) -> None:
    """Over a limit shed below the configured priority; past twice a limit, all but the top."""
    assert (
        shed_threshold(queued, error_rate, queue_limit=100, error_limit=0.5, shed_below=5)
        == threshold
    )
