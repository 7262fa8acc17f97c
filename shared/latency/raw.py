"""Raw samples in hourly JSON-lines objects, rotation and retention.

Layout (one object per source and UTC hour, so no object is hot: a run every
15 minutes appends to it about four times an hour)::

    latency/raw/<YYYY>/<MM>/<DD>/<HH>/<source>.jsonl
    latency/archive/<YYYY>/<MM>/<job_id>/<YYYYMMDDHH>-<source>.jsonl

Appends are compare-and-swap on the generation read. When an append would
take an hourly object past ``rotation_bytes`` (10 MB by default), its current
content moves to ``latency/archive/...`` under the appending run's job id and
the hourly object starts again; the archived names travel in the hourly
object's ``archived`` metadata, so reading an hour never lists the archive.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.latency.sampler import Sample
from shared.storage import ObjectStore
from shared.storage.errors import ObjectNotFound, PreconditionFailed

RAW_PREFIX = "latency/raw/"
ARCHIVE_PREFIX = "latency/archive/"
_ARCHIVED_KEY = "archived"
_MAX_ROUNDS = 10
_PARSE_CHUNK = 4096
_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class WriteResult:
    """What writing one run's samples did."""

    samples_written: int
    objects: tuple[str, ...]
    hours: tuple[tuple[str, datetime], ...]  # (source, hour) pairs touched
    archived: tuple[str, ...]
    next_rotation_bytes: int


@dataclass(frozen=True)
class PruneResult:
    """How many objects retention deleted, by kind."""

    raw: int
    archive: int
    rollups: int


def hour_of(moment: datetime) -> datetime:
    """The UTC hour a moment falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def raw_name(source: str, hour: datetime) -> str:
    return f"{RAW_PREFIX}{hour:%Y/%m/%d/%H}/{source}.jsonl"


def archive_name(job_id: str, source: str, hour: datetime) -> str:
    return f"{ARCHIVE_PREFIX}{hour:%Y/%m}/{job_id}/{hour:%Y%m%d%H}-{source}.jsonl"


def write_samples(
    store: ObjectStore,
    samples: Iterable[Sample],
    *,
    job_id: str,
    rotation_bytes: int,
) -> WriteResult:
    """Append samples to their hourly objects, rotating full ones."""
    groups: dict[tuple[str, datetime], list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[(sample.source, hour_of(sample.timestamp_utc))].append(sample)
    objects: list[str] = []
    archived: list[str] = []
    headroom = rotation_bytes
    count = 0
    for (source, hour), group in sorted(groups.items()):
        lines = b"".join(
            json.dumps(s.to_json(), separators=(",", ":")).encode() + b"\n" for s in group
        )
        name = raw_name(source, hour)
        size, moved = _append(store, name, lines, job_id, source, hour, rotation_bytes)
        objects.append(name)
        archived.extend(moved)
        headroom = min(headroom, max(0, rotation_bytes - size))
        count += len(group)
    return WriteResult(count, tuple(objects), tuple(sorted(groups)), tuple(archived), headroom)


def _append(  # noqa: PLR0917 - private helper, called once with every part of the key
    store: ObjectStore,
    name: str,
    lines: bytes,
    job_id: str,
    source: str,
    hour: datetime,
    rotation_bytes: int,
) -> tuple[int, list[str]]:
    """Append ``lines`` to ``name``; returns the new size and any archive written."""
    for _ in range(_MAX_ROUNDS):
        current = store.get_or_none(name)
        if current is None:
            try:
                store.put(name, lines, if_absent=True, content_type="application/x-ndjson")
            except PreconditionFailed:
                continue
            return len(lines), []
        metadata = dict(current.metadata)
        if current.data and len(current.data) + len(lines) > rotation_bytes:
            target = archive_name(job_id, source, hour)
            # Job ids are unique per run, so nobody else ever writes this name.
            store.put(target, current.data, content_type="application/x-ndjson")
            names = [n for n in metadata.get(_ARCHIVED_KEY, "").split(",") if n]
            metadata[_ARCHIVED_KEY] = ",".join([*names, target])
            try:
                store.put(
                    name,
                    lines,
                    if_generation=current.generation,
                    metadata=metadata,
                    content_type="application/x-ndjson",
                )
            except PreconditionFailed:
                store.delete_if_exists(target)
                continue
            return len(lines), [target]
        data = current.data + lines
        try:
            store.put(
                name,
                data,
                if_generation=current.generation,
                metadata=metadata,
                content_type="application/x-ndjson",
            )
        except PreconditionFailed:
            continue
        return len(data), []
    raise PreconditionFailed(f"{name}: too many concurrent writers")


def read_hour(store: ObjectStore, source: str, hour: datetime) -> Iterator[Sample]:
    """Every sample of one source and hour, archived parts included."""
    for data in _hour_blobs(store, source, hour):
        for line in data.splitlines():
            if line.strip():
                yield Sample.from_json(json.loads(line))


def read_hour_values(store: ObjectStore, source: str, hour: datetime) -> tuple[list[float], int]:
    """Latencies of the successful samples and the number of error samples."""
    values: list[float] = []
    errors = 0
    # The hot path of every rollup: lines parsed as JSON arrays of a few thousand
    # (one C-level parse each, bounded memory), no Sample objects, no timestamps.
    for data in _hour_blobs(store, source, hour):
        lines = [line for line in data.splitlines() if line.strip()]
        for start in range(0, len(lines), _PARSE_CHUNK):
            chunk = b",".join(lines[start : start + _PARSE_CHUNK])
            for row in json.loads(b"[" + chunk + b"]"):
                latency = row.get("latency_ms")
                if latency is None or row.get("error") is not None:
                    errors += 1
                else:
                    values.append(float(latency))
    return values, errors


def _hour_blobs(store: ObjectStore, source: str, hour: datetime) -> Iterator[bytes]:
    current = store.get_or_none(raw_name(source, hour))
    if current is None:
        return
    for archived in current.metadata.get(_ARCHIVED_KEY, "").split(","):
        if not archived:
            continue
        try:
            yield store.get(archived).data
        except ObjectNotFound:
            continue  # pruned by retention while we read
    yield current.data


def prune(
    store: ObjectStore,
    *,
    now: datetime,
    raw_retention_days: int,
    rollup_retention_days: int,
    rollup_prefix: str,
) -> PruneResult:
    """Delete raw and archived samples and rollups whose hour ended before retention."""
    raw_cutoff = now - timedelta(days=raw_retention_days)
    rollup_cutoff = now - timedelta(days=rollup_retention_days)
    raw = 0
    for info in store.list(RAW_PREFIX):
        hour = _raw_hour(info.name)
        if hour is None:
            continue
        if hour + _HOUR > raw_cutoff:
            break  # names sort by hour: everything after is newer
        raw += store.delete_if_exists(info.name)
    archive = 0
    for info in store.list(ARCHIVE_PREFIX):
        hour = _stamp_hour(info.name.rsplit("/", 1)[-1][:10])
        if hour is not None and hour + _HOUR <= raw_cutoff:
            archive += store.delete_if_exists(info.name)
    rollups = 0
    for info in store.list(rollup_prefix):
        hour = _stamp_hour(info.name.rsplit("/", 1)[-1].removesuffix(".json"))
        if hour is not None and hour + _HOUR <= rollup_cutoff:
            rollups += store.delete_if_exists(info.name)
    return PruneResult(raw, archive, rollups)


def _raw_hour(name: str) -> datetime | None:
    parts = name[len(RAW_PREFIX) :].split("/")
    if len(parts) != 5:
        return None
    return _stamp_hour("".join(parts[:4]))


def _stamp_hour(stamp: str) -> datetime | None:
    """``YYYYMMDDHH`` as a UTC hour; None for anything else."""
    if len(stamp) != 10 or not stamp.isdigit():
        return None
    try:
        return datetime.strptime(stamp, "%Y%m%d%H").replace(tzinfo=UTC)
    except ValueError:
        return None
