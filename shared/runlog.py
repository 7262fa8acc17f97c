"""The automation run log: one record per run of a scheduled job.

Every record is its own object, created create-only, so no object is ever
written twice (GCS allows about one write per second per object name):

    runlog/<YYYY>/<MM>/<DD>/<YYYYMMDDThhmmssZ>-<job>.json

A second record for the same job in the same second is stored as
``...-<job>-2.json``, ``-3`` and so on. Names sort by time, so reading a time
range lists only the names inside it (``start_after`` the start, stopping at
the end) and never touches records outside the range.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared import logs
from shared.clock import Clock, isoformat, parse_iso, utcnow
from shared.redaction import redact_data, redact_text
from shared.storage import ObjectStore
from shared.storage.errors import ObjectNotFound, PreconditionFailed

PREFIX = "runlog/"
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_STAMP = "%Y%m%dT%H%M%SZ"
_STAMP_LEN = len("20260101T000000Z")
_MAX_SAME_SECOND = 1000
_MAX_MESSAGE = 4000
_log = logs.get_logger("opsplane.runlog")


class RunStatus(StrEnum):
    """How a scheduled run ended."""

    OK = "ok"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class RunRecord:
    """One run of one scheduled job, as stored in the run log."""

    job_id: str
    job: str
    status: RunStatus
    started_at: datetime
    duration_ms: int
    artefacts: dict[str, str] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 1
    error_code: str | None = None
    error_message: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON object stored and printed by ``--json``."""
        return {
            "job_id": self.job_id,
            "job": self.job,
            "status": self.status.value,
            "started_at": isoformat(self.started_at),
            "duration_ms": self.duration_ms,
            "artefacts": dict(self.artefacts),
            "alerts": [dict(alert) for alert in self.alerts],
            "attempts": self.attempts,
            "error_code": self.error_code,
            "error_message": self.error_message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        """Parse a stored record; raises ValueError/KeyError/TypeError when malformed."""
        return cls(
            job_id=str(data["job_id"]),
            job=str(data["job"]),
            status=RunStatus(data["status"]),
            started_at=parse_iso(str(data["started_at"])),
            duration_ms=int(data["duration_ms"]),
            artefacts={str(k): str(v) for k, v in dict(data.get("artefacts") or {}).items()},
            alerts=[dict(alert) for alert in data.get("alerts") or []],
            attempts=int(data.get("attempts", 1)),
            error_code=data.get("error_code"),
            error_message=data.get("error_message"),
        )


def job_id_for(job: str, started_at: datetime) -> str:
    """``YYYYMMDDThhmmssZ-<job>`` in UTC, the id a run is known by."""
    return f"{started_at.astimezone(UTC):{_STAMP}}-{job}"


def _object_name(job_id: str, started_at: datetime) -> str:
    return f"{PREFIX}{started_at.astimezone(UTC):%Y/%m/%d}/{job_id}.json"


def _name_stamp(name: str) -> str:
    """The ``YYYYMMDDThhmmssZ`` part of an object name (empty when foreign)."""
    base = name.rsplit("/", 1)[-1]
    return base[:_STAMP_LEN]


def _name_matches_job(name: str, job: str) -> bool:
    """Whether an object name can hold a record of ``job`` (suffix included)."""
    base = name.rsplit("/", 1)[-1].removesuffix(".json")
    rest = base[_STAMP_LEN + 1 :]
    if rest == job:
        return True
    head, _, suffix = rest.rpartition("-")
    return head == job and suffix.isdigit()


class RunLog:
    """Append and read run records in the object store."""

    def __init__(self, store: ObjectStore, clock: Clock = utcnow) -> None:
        self._store = store
        self._clock = clock

    def record(
        self,
        job: str,
        status: RunStatus | str,
        *,
        started_at: datetime,
        duration_ms: int,
        artefacts: Mapping[str, str] | None = None,
        alerts: Sequence[Mapping[str, Any]] = (),
        attempts: int = 1,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> RunRecord:
        """Store one run record (create-only) and return it as stored.

        ``error_message`` and the alerts are redacted before they are written.
        Raises ValueError for a bad job name, status, time or count.
        """
        if not _JOB_NAME.match(job):
            raise ValueError(
                f"invalid job name {job!r}: use letters, digits, '_', '.', '-' (max 100)"
            )
        try:
            run_status = RunStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in RunStatus)
            raise ValueError(f"invalid run status {status!r}; expected one of {allowed}") from None
        if started_at.tzinfo is None:
            raise ValueError("started_at must be timezone-aware")
        if duration_ms < 0:
            raise ValueError(f"duration_ms must be >= 0, got {duration_ms}")
        if attempts < 0:
            raise ValueError(f"attempts must be >= 0, got {attempts}")
        started_utc = started_at.astimezone(UTC)
        message = None
        if error_message is not None:
            message = redact_text(error_message)[:_MAX_MESSAGE]
        base_id = job_id_for(job, started_utc)
        for n in range(1, _MAX_SAME_SECOND + 1):
            job_id = base_id if n == 1 else f"{base_id}-{n}"
            record = RunRecord(
                job_id=job_id,
                job=job,
                status=run_status,
                started_at=started_utc,
                duration_ms=int(duration_ms),
                artefacts={str(k): redact_text(str(v)) for k, v in (artefacts or {}).items()},
                alerts=[redact_data(dict(alert)) for alert in alerts],
                attempts=int(attempts),
                error_code=error_code,
                error_message=message,
            )
            body = record.to_json()
            body["recorded_at"] = isoformat(self._clock())
            try:
                self._store.put(
                    _object_name(job_id, started_utc),
                    json.dumps(body, sort_keys=True).encode(),
                    if_absent=True,
                )
            except PreconditionFailed:
                continue
            return record
        raise RuntimeError(f"more than {_MAX_SAME_SECOND} records for {base_id} in one second")

    def read(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        job: str | None = None,
    ) -> Iterator[RunRecord]:
        """Records with ``since <= started_at <= until`` (and of ``job``), in time order."""
        since_utc = since.astimezone(UTC) if since is not None else None
        until_utc = until.astimezone(UTC) if until is not None else None
        start_after = None
        if since_utc is not None:
            # "<day>/<stamp>" sorts before every "<day>/<stamp>-<job>.json" of that second.
            start_after = f"{PREFIX}{since_utc:%Y/%m/%d}/{since_utc:{_STAMP}}"
        until_stamp = f"{until_utc:{_STAMP}}" if until_utc is not None else None
        group: list[str] = []
        group_stamp = ""
        for info in self._store.list(PREFIX, start_after=start_after):
            stamp = _name_stamp(info.name)
            if until_stamp is not None and stamp > until_stamp:
                break
            if job is not None and not _name_matches_job(info.name, job):
                continue
            if stamp != group_stamp:
                yield from self._read_group(group, since_utc, until_utc, job)
                group, group_stamp = [], stamp
            group.append(info.name)
        yield from self._read_group(group, since_utc, until_utc, job)

    def _read_group(
        self,
        names: list[str],
        since: datetime | None,
        until: datetime | None,
        job: str | None,
    ) -> Iterator[RunRecord]:
        """Records of one second, ordered by their exact start time."""
        records = [r for r in map(self._load, names) if r is not None]
        records.sort(key=lambda r: (r.started_at, r.job_id))
        for record in records:
            if since is not None and record.started_at < since:
                continue
            if until is not None and record.started_at > until:
                continue
            if job is not None and record.job != job:
                continue
            yield record

    def _load(self, name: str) -> RunRecord | None:
        try:
            data = json.loads(self._store.get(name).data)
            return RunRecord.from_json(data)
        except ObjectNotFound:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            # One damaged object must not hide the rest of the log.
            _log.warning(
                "skipping unreadable run-log record",
                extra={"fields": {"object": name, "error": str(exc)}},
            )
            return None
