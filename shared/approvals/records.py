"""What the watcher remembers per run: ``approvals/runs/<run_id>.json``.

One object per run (no hot object): which issue is the run's, which
commands were already answered, and the decision once taken. Created
create-only *before* the issue is opened, so two watchers never open two
issues for one run; changed by compare-and-swap.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from shared.storage import ObjectStore
from shared.storage.errors import PreconditionFailed

PREFIX = "approvals/runs/"
MAX_CAS_RETRIES = 10


@dataclass(frozen=True)
class ApprovalRecord:
    """The approval state of one run on GitHub."""

    run_id: str
    issue_number: int | None = None
    claimed_at: str | None = None
    answered: tuple[str, ...] = ()
    decision: dict[str, Any] | None = None
    decision_answered: bool = False
    closed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "run_id": self.run_id,
                "issue_number": self.issue_number,
                "claimed_at": self.claimed_at,
                "answered": list(self.answered),
                "decision": self.decision,
                "decision_answered": self.decision_answered,
                "closed": self.closed,
                "extra": self.extra,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ApprovalRecord:
        doc = json.loads(data)
        return cls(
            run_id=str(doc["run_id"]),
            issue_number=int(doc["issue_number"]) if doc.get("issue_number") else None,
            claimed_at=doc.get("claimed_at"),
            answered=tuple(str(x) for x in doc.get("answered") or ()),
            decision=doc.get("decision"),
            decision_answered=bool(doc.get("decision_answered")),
            closed=bool(doc.get("closed")),
            extra=dict(doc.get("extra") or {}),
        )


def record_name(run_id: str) -> str:
    return f"{PREFIX}{run_id}.json"


class ApprovalRecords:
    """Read, claim and change approval records."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def get(self, run_id: str) -> ApprovalRecord | None:
        stored = self.store.get_or_none(record_name(run_id))
        return ApprovalRecord.from_json(stored.data) if stored else None

    def claim(self, record: ApprovalRecord) -> bool:
        """Create the record; False when the run already has one."""
        return self.store.create(record_name(record.run_id), record.to_json())

    def update(
        self, run_id: str, change: Callable[[ApprovalRecord], ApprovalRecord | None]
    ) -> ApprovalRecord | None:
        """Apply ``change`` by compare-and-swap; the record as stored (None when absent)."""
        for _ in range(MAX_CAS_RETRIES):
            stored = self.store.get_or_none(record_name(run_id))
            if stored is None:
                return None
            current = ApprovalRecord.from_json(stored.data)
            new = change(current)
            if new is None:
                return current
            try:
                self.store.put(record_name(run_id), new.to_json(), if_generation=stored.generation)
            except PreconditionFailed:
                continue
            return new
        raise PreconditionFailed(f"approval record of {run_id} kept changing")


def with_answered(record: ApprovalRecord, reference: str) -> ApprovalRecord:
    return replace(record, answered=(*record.answered, reference))
