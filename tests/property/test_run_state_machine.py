"""The run state machine under hypothesis: legal moves only, and no update is ever lost.

A rule-based machine drives one run through RunStore with two writers, each
holding its own (possibly stale) read. Every write bumps a counter in the
run's ``extra``; if a write based on a stale read could land, the stored
counter would fall behind the number of successful writes.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from shared.jobs.models import LEGAL_TRANSITIONS, IllegalTransition, Run, RunStatus
from shared.jobs.store import RunStore, VersionedRun
from shared.storage.errors import PreconditionFailed
from shared.storage.file import FileStore
from shared.storage.memory import MemoryStore

START = datetime(2026, 1, 1, tzinfo=UTC)
WRITERS = ("a", "b")
STATUSES = list(RunStatus)


def _new_run(status: RunStatus) -> Run:
    return Run(
        run_id="20260101T000000000000Z-0000000001",
        job_type="noop",
        params={},
        owner="prop",
        status=status,
        created_at=START,
        updated_at=START,
        extra={"count": 0},
    )


class TwoWriters(RuleBasedStateMachine):
    """Two writers race compare-and-swap writes and read-modify-write updates on one run."""

    def __init__(self) -> None:
        super().__init__()
        self.runs = RunStore(MemoryStore())
        self.views: dict[str, VersionedRun] = {}
        self.writes = 0
        self.history: list[RunStatus] = []
        self.tick = 0

    def _now(self) -> datetime:
        self.tick += 1
        return START + timedelta(seconds=self.tick)

    @initialize(status=st.sampled_from([RunStatus.QUEUED, RunStatus.WAITING_APPROVAL]))
    def create(self, status: RunStatus) -> None:
        created = self.runs.create(_new_run(status))
        self.views = dict.fromkeys(WRITERS, created)
        self.history = [status]

    @property
    def stored(self) -> VersionedRun:
        return self.runs.get(_new_run(RunStatus.QUEUED).run_id)

    @rule(writer=st.sampled_from(WRITERS))
    def read(self, writer: str) -> None:
        self.views[writer] = self.stored

    @rule(writer=st.sampled_from(WRITERS), wanted=st.sampled_from(STATUSES))
    def swap(self, writer: str, wanted: RunStatus) -> None:
        """A CAS write from the writer's view: lands only if legal and not stale."""
        view = self.views[writer]
        before = self.stored
        count = int(view.run.extra["count"])
        new = view.run.evolve(self._now(), status=wanted, extra={"count": count + 1})
        stale = before.generation != view.generation
        legal = wanted in LEGAL_TRANSITIONS[view.run.status]
        try:
            self.views[writer] = self.runs.replace(view, new)
        except IllegalTransition:
            assert not legal
            assert self.stored.generation == before.generation, "an illegal move wrote"
            return
        except PreconditionFailed:
            assert stale, "a fresh view was refused"
            assert self.stored.generation == before.generation, "a refused write wrote"
            return
        assert legal, f"{view.run.status} -> {wanted} was written"
        assert not stale, "a write from a stale read landed (lost update)"
        self.writes += 1
        self.history.append(wanted)

    @rule(writer=st.sampled_from(WRITERS), wanted=st.sampled_from(STATUSES))
    def update(self, writer: str, wanted: RunStatus) -> None:
        """RunStore.update from the writer's view re-reads on conflict and re-decides."""
        view = self.views[writer]

        def change(run: Run) -> Run | None:
            if wanted not in LEGAL_TRANSITIONS[run.status]:
                return None
            count = int(run.extra["count"])
            return run.evolve(self._now(), status=wanted, extra={"count": count + 1})

        # With a ``current`` hint, the first decision is made on the writer's view; only a
        # conflicting write makes update() re-read. So a move refused on a stale view is not
        # re-tried against the latest run (see docs/reliability.md), and a move the view
        # allows lands only if the latest run allows it too.
        legal_on_view = wanted in LEGAL_TRANSITIONS[view.run.status]
        legal_now = wanted in LEGAL_TRANSITIONS[self.stored.run.status]
        stored, wrote = self.runs.update(view.run.run_id, change, current=view)
        assert wrote == (legal_on_view and legal_now)
        if wrote:
            self.writes += 1
            self.history.append(wanted)
        self.views[writer] = stored

    @precondition(lambda self: bool(self.history))
    @invariant()
    def no_lost_update_and_only_legal_moves(self) -> None:
        run = self.stored.run
        assert run.extra["count"] == self.writes, "a successful write was lost"
        assert run.revision == self.writes + 1
        assert run.status is self.history[-1]
        for before, after in zip(self.history, self.history[1:], strict=False):
            assert after in LEGAL_TRANSITIONS[before], f"{before} -> {after} reached"

    @precondition(lambda self: bool(self.history))
    @invariant()
    def final_is_final(self) -> None:
        finals = [i for i, status in enumerate(self.history) if status.final]
        if finals:
            assert finals[0] == len(self.history) - 1, "a final run moved again"


TwoWriters.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_two_writers = TwoWriters.TestCase


def _store(kind: str, tmp_path: Path) -> Any:
    return MemoryStore() if kind == "memory" else FileStore(tmp_path / "store")


@pytest.mark.parametrize(
    "kind", [pytest.param("memory", id="memory"), pytest.param("file", id="file")]
)
def test_concurrent_updates_lose_nothing(kind: str, tmp_path: Path) -> None:
    """Four threads each update one run 25 times; the counter ends at exactly 100."""
    runs = RunStore(_store(kind, tmp_path))
    created = runs.create(_new_run(RunStatus.RUNNING))
    threads, per_thread = 4, 25
    errors: list[BaseException] = []

    def bump(run: Run) -> Run:
        return run.evolve(START, extra={"count": int(run.extra["count"]) + 1})

    def worker() -> None:
        try:
            for _ in range(per_thread):
                runs.update(created.run.run_id, bump)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert not errors
    final = runs.get(created.run.run_id).run
    assert final.extra["count"] == threads * per_thread
    assert final.revision == threads * per_thread + 1
