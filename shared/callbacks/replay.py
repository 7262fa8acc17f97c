"""Replaying callback dead letters: deliver again, and forget those that land.

Each selected letter is sent once more (re-signed with a fresh timestamp, with
a fresh ID token). One that is accepted (2xx, a duplicate included) is deleted;
one that fails keeps its letter, with the new error recorded, and is named in
the report. The receiver applies events by revision, so replaying in any
order, or twice, still leaves each run at its true final state.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.callbacks import deadletters
from shared.callbacks.deadletters import CallbackDeadLetter
from shared.callbacks.sender import CallbackSender
from shared.storage import ObjectStore

Progress = Callable[[CallbackDeadLetter], None]


@dataclass(frozen=True)
class ReplayReport:
    """Which letters were replayed, which failed (and why), which ids matched nothing."""

    dry_run: bool
    selected: list[str] = field(default_factory=list)
    replayed: list[str] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing

    def to_dict(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "selected": self.selected,
            "replayed": self.replayed,
            "failed": self.failed,
            "missing": self.missing,
            "ok": self.ok,
        }


def select(
    store: ObjectStore, event_ids: Collection[str] | None = None, since: datetime | None = None
) -> tuple[list[CallbackDeadLetter], list[str]]:
    """The letters to replay (by id and/or written at or after ``since``), and unknown ids."""
    wanted = set(event_ids or ())
    letters = []
    for letter in deadletters.list_letters(store):
        if wanted and letter.event_id not in wanted:
            continue
        if since is not None and letter.created_at < since:
            continue
        letters.append(letter)
    found = {letter.event_id for letter in letters}
    missing = sorted(wanted - found) if wanted else []
    return letters, missing


def replay(
    store: ObjectStore,
    sender: CallbackSender,
    *,
    event_ids: Collection[str] | None = None,
    since: datetime | None = None,
    dry_run: bool = False,
    attempts: int = 1,
    progress: Progress | None = None,
) -> ReplayReport:
    """Deliver the selected dead letters again; see the module docstring."""
    letters, missing = select(store, event_ids, since)
    report = ReplayReport(dry_run, [letter.event_id for letter in letters], missing=missing)
    for letter in letters:
        if not dry_run:
            result = sender.send(letter.payload, max_attempts=attempts)
            if result.delivered:
                deadletters.resolve(store, letter)
                report.replayed.append(letter.event_id)
            else:
                deadletters.record_failure(
                    store,
                    letter,
                    attempts=result.attempts,
                    error=result.error,
                    status=result.status,
                )
                report.failed.append(
                    {"eventId": letter.event_id, "status": result.status, "error": result.error}
                )
        if progress is not None:
            progress(letter)
    return report
