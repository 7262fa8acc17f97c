"""The approval watcher: waiting runs decided on GitHub issues.

settings   OPSPLANE_APPROVERS and the labels
issues     the approval issue's title and body, finding a run's issue, label events
decisions  /approve and /reject comments, decisive labels, verdicts
records    approvals/runs/<run_id>.json: the run's issue, answers, decision
watcher    ApprovalWatcher.sync(): one pass
status     approvals/status.json and last_status() for /ops/metrics
job        the scheduled job "approval_watcher", sync_once() and run_sync()
"""

from __future__ import annotations

from shared.approvals.settings import ApprovalSettings
from shared.approvals.status import last_status
from shared.approvals.watcher import ApprovalWatcher, SyncReport

__all__ = ["ApprovalSettings", "ApprovalWatcher", "SyncReport", "last_status"]
