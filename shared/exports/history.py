"""Immutable bundles of past exports, kept eight weeks.

    exports/history/<sequence>-<YYYYMMDDThhmmssZ>/<dataset>.json
    exports/history/<sequence>-<YYYYMMDDThhmmssZ>/manifest.json

A bundle is written once by the run that owns its sequence, so it never
races. Names sort by sequence, which grows with time: pruning walks from the
oldest and stops at the first bundle inside the retention, reading nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.storage import ObjectStore

HISTORY_PREFIX = "exports/history/"
RETENTION = timedelta(weeks=8)
_STAMP = "%Y%m%dT%H%M%SZ"


def bundle_prefix(sequence: int, generated_at: datetime) -> str:
    return f"{HISTORY_PREFIX}{sequence:012d}-{generated_at.astimezone(UTC):{_STAMP}}/"


def bundle_time(name: str) -> datetime | None:
    """When the bundle an object belongs to was generated (None for a foreign name)."""
    folder = name[len(HISTORY_PREFIX) :].split("/", 1)[0]
    _, _, stamp = folder.partition("-")
    try:
        return datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def bundle_sequence(name: str) -> int | None:
    folder = name[len(HISTORY_PREFIX) :].split("/", 1)[0]
    head = folder.partition("-")[0]
    return int(head) if head.isdigit() else None


def find_bundle(store: ObjectStore, sequence: int) -> str | None:
    """The prefix of bundle ``sequence`` (None when pruned or never written)."""
    for info in store.list(f"{HISTORY_PREFIX}{sequence:012d}-", page_size=1):
        return info.name.rsplit("/", 1)[0] + "/"
    return None


def prune_history(
    store: ObjectStore, now: datetime, *, keep: timedelta = RETENTION, newest: int | None = None
) -> tuple[int, int | None]:
    """Delete bundles generated before ``now - keep``; never the bundle ``newest``.

    Returns (objects deleted, the sequence of the oldest bundle kept).
    """
    cutoff = now - keep
    removed = 0
    for info in store.list(HISTORY_PREFIX):
        generated = bundle_time(info.name)
        sequence = bundle_sequence(info.name)
        if generated is None:
            continue  # not a bundle of ours: leave it alone
        if generated >= cutoff or sequence == newest:
            return removed, sequence
        removed += store.delete_if_exists(info.name)
    return removed, None
