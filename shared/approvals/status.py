"""The watcher's last pass, for ``/ops/metrics``: ``approvals/status.json``.

Written once per pass (a pass runs at most every minute or so: one object is
fine). :func:`last_status` is what metrics code calls.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared.approvals.watcher import SyncReport
from shared.clock import isoformat
from shared.storage import ObjectStore

STATUS_NAME = "approvals/status.json"


def write_status(store: ObjectStore, report: SyncReport, *, at: datetime, duration_ms: int) -> None:
    """Remember the outcome of the pass that just ended."""
    previous = last_status(store) or {}
    doc = {
        "job": "approval_watcher",
        "last_run_at": isoformat(at),
        "status": "ok" if report.ok else "error",
        "duration_ms": duration_ms,
        "error_code": report.error_code or (report.errors[0]["code"] if report.errors else None),
        "error_message": report.error_message
        or (report.errors[0]["message"] if report.errors else None),
        "waiting": report.waiting,
        "opened": len(report.opened),
        "approved": len(report.approved),
        "rejected": len(report.rejected),
        "refused": len(report.refused),
        "errors": len(report.errors),
        "last_ok_at": isoformat(at) if report.ok else previous.get("last_ok_at"),
        "consecutive_failures": 0
        if report.ok
        else int(previous.get("consecutive_failures", 0)) + 1,
    }
    store.put(STATUS_NAME, json.dumps(doc, sort_keys=True).encode())


def last_status(store: ObjectStore) -> dict[str, Any] | None:
    """The last pass's status (``status`` ok/error, ``error_code``, counts), or None."""
    stored = store.get_or_none(STATUS_NAME)
    if stored is None:
        return None
    try:
        doc = json.loads(stored.data)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
