"""Dead letters of runs that failed for good: ``dlq/jobs/<run_id>.json``.

Written create-only when a run becomes FAILED, so a retried write (or two
instances racing) leaves exactly one. Everything in it is redacted: the
params, the last error and every attempt's message. ``status`` starts as
``open``; a replay marks it ``resolved``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.clock import Clock, isoformat
from shared.jobs.models import Run
from shared.jobs.store import _valid_run_id
from shared.redaction import redact_data, redact_text
from shared.storage import ObjectStore

PREFIX = "dlq/jobs/"


def dead_letter_name(run_id: str) -> str:
    return f"{PREFIX}{run_id}.json"


@dataclass(frozen=True)
class DeadLetter:
    run_id: str
    job_type: str
    owner: str
    error_code: str
    last_error: str
    params: Any
    attempts: list[dict[str, Any]]
    created_at: str
    status: str = "open"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "job_type": self.job_type,
            "owner": self.owner,
            "error_code": self.error_code,
            "last_error": self.last_error,
            "params": self.params,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "status": self.status,
        }


def dead_letter_for(run: Run, clock: Clock) -> DeadLetter:
    """The redacted dead letter of a failed run."""
    attempts = run.to_dict()["attempts"]
    for attempt in attempts:
        if attempt.get("error_message"):
            attempt["error_message"] = redact_text(attempt["error_message"])
    return DeadLetter(
        run_id=run.run_id,
        job_type=run.job_type,
        owner=run.owner,
        error_code=run.error_code or "failed",
        last_error=redact_text(run.error_message or ""),
        params=redact_data(run.params),
        attempts=attempts,
        created_at=isoformat(clock()),
    )


def write_dead_letter(store: ObjectStore, run: Run, clock: Clock) -> bool:
    """Write the run's dead letter once; False when it already exists."""
    letter = dead_letter_for(run, clock)
    data = json.dumps(letter.to_dict(), sort_keys=True).encode()
    return store.create(
        dead_letter_name(run.run_id), data, metadata={"job_type": run.job_type, "status": "open"}
    )


def read_dead_letter(store: ObjectStore, run_id: str) -> dict[str, Any] | None:
    """A dead letter as stored, or None."""
    if not _valid_run_id(run_id):
        return None
    stored = store.get_or_none(dead_letter_name(run_id))
    return json.loads(stored.data) if stored else None
