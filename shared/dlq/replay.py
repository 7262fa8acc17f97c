"""Replay dead-lettered runs: each one re-enqueued exactly once, however often replay runs.

A FAILED run is final, so a replay submits a *new* run with the same job
type, params (the original's, not the redacted copy in the letter), owner and
priority, linked by ``retry_of_run_id`` and ``extra.replay_of``; its first
attempt is enqueued. The dead letter is kept as history and moves by
compare-and-swap::

    open --(new run id chosen, recorded)--> replaying --(run created, task enqueued)--> resolved

The new run id is recorded *before* the run exists, so a replay interrupted
anywhere and run again finds the letter ``replaying``, creates that same run
(create-only: a second create is a no-op) and enqueues the same task name,
which the queue deduplicates. Two replays racing on one letter: one CAS wins.

Callback dead letters are handed to the callbacks plane's own replay
(:func:`shared.callbacks.replay.replay`: deliver again, drop the letter once
accepted; the receiver deduplicates by event id) when a sender is given.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.clock import isoformat
from shared.dlq.letters import DeadLetterEntry, DlqFilter, LetterKind, LetterStatus, iter_letters
from shared.jobs import events
from shared.jobs.models import Run, RunStatus, new_run_id
from shared.jobs.plane import Plane
from shared.jobs.store import RunNotFound
from shared.jobs.tasks import enqueue_next_attempt
from shared.queue.base import QueueError
from shared.redaction import redact_text
from shared.storage.errors import PreconditionFailed

if TYPE_CHECKING:
    from shared.callbacks.sender import CallbackSender

MAX_CAS_RETRIES = 10
REPLAYABLE = frozenset({LetterStatus.OPEN.value, LetterStatus.REPLAYING.value})
_log = logs.get_logger("opsplane.dlq")


@dataclass(frozen=True)
class ReplayItem:
    """What happened to one dead letter: replayed, would_replay (dry run) or skipped."""

    letter_id: str
    action: str
    run_id: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.letter_id,
            "action": self.action,
            "run_id": self.run_id,
            "reason": self.reason,
        }


@dataclass
class ReplayReport:
    """The outcome of one replay call."""

    dry_run: bool
    matched: int = 0
    items: list[ReplayItem] = field(default_factory=list)
    stopped: bool = False
    error: str | None = None

    def count(self, action: str) -> int:
        return sum(1 for item in self.items if item.action == action)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "matched": self.matched,
            "replayed": self.count("replayed"),
            "would_replay": self.count("would_replay"),
            "skipped": self.count("skipped"),
            "stopped": self.stopped,
            "error": self.error,
            "replayed_ids": [i.letter_id for i in self.items if i.action == "replayed"],
            "would_replay_ids": [i.letter_id for i in self.items if i.action == "would_replay"],
            "new_run_ids": [i.run_id for i in self.items if i.action == "replayed" and i.run_id],
            "skipped_items": [i.to_dict() for i in self.items if i.action == "skipped"],
        }


def replayable(selection: DlqFilter) -> DlqFilter:
    """``selection`` narrowed to letters a replay may touch (open or interrupted)."""
    return selection.within_statuses(REPLAYABLE)


class _Pacer:
    """At most ``rate`` replays per second; waits end early when ``stop`` is set."""

    def __init__(self, rate: float | None, stop: threading.Event) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.stop = stop
        self.next_at = 0.0

    def wait(self) -> bool:
        """False when stopped while waiting."""
        if self.interval:
            delay = self.next_at - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                return False
            self.next_at = max(self.next_at, time.monotonic()) + self.interval
        return not self.stop.is_set()


def replay(
    plane: Plane,
    selection: DlqFilter | None = None,
    *,
    actor: str,
    dry_run: bool = False,
    rate: float | None = None,
    limit: int | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[ReplayItem], None] | None = None,
    total_hint: Callable[[int], None] | None = None,
    callback_sender: CallbackSender | None = None,
) -> ReplayReport:
    """Replay matching dead letters; at most ``rate`` per second and ``limit`` in all.

    ``stop`` ends the run between letters (what is done stays done);
    ``progress`` is told about every letter; ``total_hint`` gets the number
    matched before the work starts (for a progress bar). Callback letters
    are delivered again through ``callback_sender``, or skipped without one.
    """
    if rate is not None and rate <= 0:
        raise ValueError("rate must be a positive number of replays per second")
    stop = stop or threading.Event()
    report = ReplayReport(dry_run=dry_run)
    entries = list(iter_letters(plane.store, replayable(selection or DlqFilter())))
    if limit is not None:
        entries = entries[:limit]
    report.matched = len(entries)
    if total_hint is not None:
        total_hint(len(entries))
    pacer = _Pacer(rate, stop)
    for entry in entries:
        if not dry_run and not pacer.wait():
            report.stopped = True
            break
        try:
            if entry.kind is LetterKind.CALLBACK:
                item = _replay_callback(plane, entry, callback_sender, dry_run)
            elif dry_run:
                item = _dry_run_one(plane, entry)
            else:
                item = _replay_one(plane, entry, actor)
        except QueueError as exc:
            # The queue is down: the letter stays "replaying" and a later replay finishes it.
            report.error = redact_text(f"the queue refused a task: {exc}")
            report.stopped = True
            break
        report.items.append(item)
        if progress is not None:
            progress(item)
    return report


def _replay_callback(
    plane: Plane, entry: DeadLetterEntry, sender: CallbackSender | None, dry_run: bool
) -> ReplayItem:
    if sender is None:
        return ReplayItem(entry.letter_id, "skipped", reason="no_callback_url")
    if dry_run:
        return ReplayItem(entry.letter_id, "would_replay")
    from shared.callbacks import replay as callback_replay

    report = callback_replay.replay(plane.store, sender, event_ids=[entry.letter_id])
    if entry.letter_id in report.replayed:
        return ReplayItem(entry.letter_id, "replayed")
    failure = next(iter(report.failed), None)
    reason = f"callback_failed: {failure['error']}" if failure else "letter_gone"
    return ReplayItem(entry.letter_id, "skipped", reason=redact_text(reason))


def _dry_run_one(plane: Plane, entry: DeadLetterEntry) -> ReplayItem:
    try:
        plane.runs.get(entry.letter_id)
    except RunNotFound:
        return ReplayItem(entry.letter_id, "skipped", reason="run_missing")
    return ReplayItem(entry.letter_id, "would_replay")


def _replay_one(plane: Plane, entry: DeadLetterEntry, actor: str) -> ReplayItem:
    store = plane.store
    name = entry.object_name
    for _ in range(MAX_CAS_RETRIES):
        stored = store.get_or_none(name)
        if stored is None:
            return ReplayItem(entry.letter_id, "skipped", reason="letter_gone")
        doc = json.loads(stored.data)
        status = doc.get("status") or LetterStatus.OPEN.value
        if status == LetterStatus.RESOLVED.value:
            return ReplayItem(entry.letter_id, "skipped", reason="already_resolved")
        try:
            original = plane.runs.get(entry.letter_id).run
        except RunNotFound:
            return ReplayItem(entry.letter_id, "skipped", reason="run_missing")
        generation = stored.generation
        if status == LetterStatus.OPEN.value:
            now = plane.clock()
            doc["status"] = LetterStatus.REPLAYING.value
            doc["replay"] = {
                "run_id": new_run_id(now),
                "started_at": isoformat(now),
                "by": actor,
            }
            try:
                generation = store.put(
                    name, _encode(doc), if_generation=generation, metadata=_meta(doc)
                )
            except PreconditionFailed:
                continue  # another replay moved it: decide again on what it wrote
        run = _ensure_replay_run(plane, original, str(doc["replay"]["run_id"]), actor)
        if run.status is RunStatus.QUEUED and not run.attempts:
            enqueue_next_attempt(plane.queue, run)  # same task name every time: deduplicated
        doc["status"] = LetterStatus.RESOLVED.value
        doc["replay"]["resolved_at"] = isoformat(plane.clock())
        try:
            store.put(name, _encode(doc), if_generation=generation, metadata=_meta(doc))
        except PreconditionFailed:
            continue  # re-read: either resolved by the racer, or resolve again
        return ReplayItem(entry.letter_id, "replayed", run_id=run.run_id)
    return ReplayItem(entry.letter_id, "skipped", reason="contended")


def _ensure_replay_run(plane: Plane, original: Run, run_id: str, actor: str) -> Run:
    """The replay run of ``original`` with id ``run_id``, created once."""
    now = plane.clock()
    run = Run(
        run_id=run_id,
        job_type=original.job_type,
        params=original.params,
        owner=original.owner,
        status=RunStatus.QUEUED,
        created_at=now,
        updated_at=now,
        priority=original.priority,
        retry_of_run_id=original.run_id,
        scheduled_at=now,
        extra={
            "replay_of": original.run_id,
            "replayed_by": actor,
            "replayed_at": isoformat(now),
            "replayed_after_attempts": len(original.attempts),
        },
    )
    try:
        plane.runs.create(run)
    except PreconditionFailed:
        return plane.runs.get(run_id).run
    plane.depth.note_created()
    events.notify(plane.notifier, run)
    _log.info(
        "dead letter replayed",
        extra={"fields": {"run_id": original.run_id, "replay_run_id": run_id, "by": actor}},
    )
    return run


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True).encode()


def _meta(doc: dict[str, Any]) -> dict[str, str]:
    return {"job_type": str(doc.get("job_type") or ""), "status": str(doc["status"])}


def callback_sender_from_env(plane: Plane) -> CallbackSender | None:
    """The callback sender ``WORKER_CALLBACK_*`` describe, or None without a URL."""
    from shared.callbacks.config import CallbackSettings
    from shared.callbacks.sender import CallbackSender

    settings = CallbackSettings.from_env()
    return CallbackSender(plane.store, settings, clock=plane.clock) if settings.url else None
