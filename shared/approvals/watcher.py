"""The approval watcher: one ``sync()`` pass between waiting runs and their GitHub issues.

For every run in WAITING_APPROVAL it opens an approval issue (or joins the
open one that names the run). It reads each issue's comments and label
events; the earliest ``/approve`` / ``/reject`` comment or ``approved`` /
``rejected`` label by an allowed user decides. The decision is written to the
watcher's record first, then applied with the runs service's own approve /
reject transitions (an approval enqueues the run), then noted on the run
(who, when, how) and answered with a comment, and the issue is closed. A
command from anyone else is answered once and changes nothing. Every step is
safe to repeat, so a pass that dies half-way is finished by the next one.

Errors: a missing token, a token without access and rate limits end the pass
(``SyncReport.error_code``); any other GitHub error is noted against its run
and the pass goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.approvals.decisions import ANSWER_MARKER, Decision, Verdict, Via, parse_command
from shared.approvals.issues import issue_body, issue_title, label_events, run_id_of
from shared.approvals.records import ApprovalRecord, ApprovalRecords, with_answered
from shared.approvals.settings import ApprovalSettings
from shared.clock import isoformat, parse_iso
from shared.github import (
    GitHubAuthError,
    GitHubError,
    GitHubPermissionError,
    GitHubRateLimited,
)
from shared.http.errors import HttpError
from shared.jobs import service
from shared.jobs.models import Run, RunStatus
from shared.jobs.plane import Plane
from shared.redaction import redact_text

if TYPE_CHECKING:
    from shared.github import GitHubClient, Issue

_log = logs.get_logger("opsplane.approvals")
# A claim without an issue this old was left by a pass that died: take it over.
CLAIM_STALE_AFTER = timedelta(minutes=2)
_FATAL: tuple[type[GitHubError], ...] = (
    GitHubAuthError,
    GitHubPermissionError,
    GitHubRateLimited,
)


def error_code_of(exc: GitHubError) -> str:
    """A stable code for the run log and metrics."""
    if isinstance(exc, GitHubAuthError):
        return "github_auth"
    if isinstance(exc, GitHubPermissionError):
        return "github_permission"
    if isinstance(exc, GitHubRateLimited):
        return "github_rate_limited"
    return "github_error"


@dataclass
class SyncReport:
    """What one pass did."""

    waiting: int = 0
    opened: list[str] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None and not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "waiting": self.waiting,
            "opened": self.opened,
            "joined": self.joined,
            "approved": self.approved,
            "rejected": self.rejected,
            "refused": self.refused,
            "closed": self.closed,
            "errors": self.errors,
            "error_code": self.error_code,
            "error_message": self.error_message,
        }


class ApprovalWatcher:
    """Keeps approval issues and waiting runs in step; see the module docstring."""

    def __init__(
        self,
        plane: Plane,
        client: GitHubClient,
        settings: ApprovalSettings | None = None,
    ) -> None:
        self.plane = plane
        self.client = client
        self.settings = settings or ApprovalSettings.from_env()
        self.records = ApprovalRecords(plane.store)

    def sync(self) -> SyncReport:
        """One pass; never raises for GitHub trouble (it is in the report)."""
        report = SyncReport()
        try:
            self._sync(report)
        except GitHubError as exc:  # the fatal kinds, or listing the issues failed
            report.error_code = error_code_of(exc)
            report.error_message = redact_text(exc.message)
        return report

    def _sync(self, report: SyncReport) -> None:
        waiting = self._waiting_runs()
        report.waiting = len(waiting)
        issues = self.client.find_open_issues(self.settings.label)
        by_run: dict[str, Issue] = {}
        for issue in sorted(issues, key=lambda i: i.number):
            run_id = run_id_of(issue)
            if run_id and run_id not in by_run:
                by_run[run_id] = issue
        for run in waiting:
            try:
                self._handle_waiting(run, by_run.get(run.run_id), report)
            except _FATAL:
                raise
            except GitHubError as exc:
                report.errors.append(
                    {
                        "run_id": run.run_id,
                        "code": error_code_of(exc),
                        "message": redact_text(exc.message),
                    }
                )
        waiting_ids = {run.run_id for run in waiting}
        for run_id, issue in by_run.items():
            if run_id not in waiting_ids:
                try:
                    self._settle_finished(run_id, issue, report)
                except _FATAL:
                    raise
                except GitHubError as exc:
                    report.errors.append(
                        {
                            "run_id": run_id,
                            "code": error_code_of(exc),
                            "message": redact_text(exc.message),
                        }
                    )

    def _waiting_runs(self) -> list[Run]:
        runs: list[Run] = []
        cursor: str | None = None
        while True:
            page, cursor = self.plane.runs.list(
                status=RunStatus.WAITING_APPROVAL, start_after=cursor, limit=200
            )
            runs.extend(page)
            if cursor is None:
                return runs

    # A waiting run: make sure it has its issue, then look for a decision.

    def _handle_waiting(self, run: Run, open_issue: Issue | None, report: SyncReport) -> None:
        record = self.records.get(run.run_id)
        if record is None or record.issue_number is None:
            number = self._open_or_join(run, open_issue, record, report)
            if number is None:
                return
            record = self.records.get(run.run_id)
            assert record is not None  # noqa: S101 - written just above
        if record.decision is not None:
            self._apply(run.run_id, record, report)
            return
        if record.issue_number is None:
            return
        issue = (
            open_issue
            if open_issue and open_issue.number == record.issue_number
            else self.client.get_issue(record.issue_number)
        )
        verdict = self._verdict(issue, record, report)
        if verdict is None:
            return
        decided = self.records.update(
            run.run_id,
            lambda current: (
                None if current.decision else replace(current, decision=verdict.to_dict())
            ),
        )
        if decided is not None:
            self._apply(run.run_id, decided, report)

    def _open_or_join(
        self,
        run: Run,
        open_issue: Issue | None,
        record: ApprovalRecord | None,
        report: SyncReport,
    ) -> int | None:
        now = self.plane.clock()
        if record is None:
            if not self.records.claim(ApprovalRecord(run.run_id, claimed_at=isoformat(now))):
                return None  # another watcher is opening it right now
        elif record.claimed_at and now - parse_iso(record.claimed_at) < CLAIM_STALE_AFTER:
            return None  # claimed moments ago by another pass, which is still opening it
        if open_issue is not None:
            number = open_issue.number
            report.joined.append(run.run_id)
        else:
            issue = self.client.create_issue(
                issue_title(run), issue_body(run, self.settings), labels=[self.settings.label]
            )
            number = issue.number
            report.opened.append(run.run_id)
        self.records.update(
            run.run_id,
            lambda current: None if current.issue_number else replace(current, issue_number=number),
        )
        return number

    def _verdict(self, issue: Issue, record: ApprovalRecord, report: SyncReport) -> Verdict | None:
        """The earliest decision by an allowed user; others' commands are answered once."""
        candidates: list[Verdict] = []
        refusals: list[tuple[str, str, Decision]] = []
        for comment in self.client.list_comments(issue.number):
            decision = parse_command(comment.body)
            if decision is None or comment.created_at is None:
                continue
            reference = f"comment:{comment.id}"
            if self.settings.allowed(comment.user):
                candidates.append(
                    Verdict(
                        decision,
                        comment.user,
                        comment.created_at,
                        Via.COMMENT,
                        issue.number,
                        reference,
                    )
                )
            else:
                refusals.append((reference, comment.user, decision))
        decisive = {
            self.settings.approved_label: Decision.APPROVE,
            self.settings.rejected_label: Decision.REJECT,
        }
        if any(label in decisive for label in issue.labels):
            for event in label_events(self.client, issue.number):
                decision = decisive.get(event.label)
                if decision is None or event.label not in issue.labels:
                    continue
                reference = f"label:{event.id}"
                if self.settings.allowed(event.actor) and event.created_at is not None:
                    candidates.append(
                        Verdict(
                            decision,
                            event.actor,
                            event.created_at,
                            Via.LABEL,
                            issue.number,
                            reference,
                        )
                    )
                elif not any(c.via is Via.LABEL and c.reference == reference for c in candidates):
                    refusals.append((reference, event.actor, decision))
        candidates.sort(key=lambda v: (v.at, v.reference))
        chosen = candidates[0] if candidates else None
        for reference, login, decision in refusals:
            if reference in record.answered:
                continue
            self._refuse(issue.number, record.run_id, reference, login, decision)
            report.refused.append(f"{record.run_id}:{login}")
        return chosen

    def _refuse(
        self, number: int, run_id: str, reference: str, login: str, decision: Decision
    ) -> None:
        # Mark first: at worst a crash loses the answer, it never repeats it.
        self.records.update(
            run_id,
            lambda current: (
                None if reference in current.answered else with_answered(current, reference)
            ),
        )
        allowed = ", ".join(f"@{a}" for a in sorted(self.settings.approvers)) or "nobody"
        how = "label" if reference.startswith("label:") else "comment"
        self.client.comment(
            number,
            f"{ANSWER_MARKER}\n@{login} may not {decision.value} this run (by {how}); "
            f"nothing changed. Allowed approvers: {allowed}.",
        )
        if how == "label":
            label = (
                self.settings.approved_label
                if decision is Decision.APPROVE
                else self.settings.rejected_label
            )
            self.client.remove_label(number, label)

    # Applying a decision, then answering it (each step safe to repeat).

    def _apply(self, run_id: str, record: ApprovalRecord, report: SyncReport) -> None:
        decision = record.decision or {}
        verdict = Decision(decision["decision"])
        # The runs service records the caller with the time; "how" rides along in it so
        # a rejected (final) run still says how it was decided.
        caller = f"github:{decision['by']} via {decision['via']}"
        outcome: str
        try:
            if verdict is Decision.APPROVE:
                run = service.approve(self.plane, run_id, caller)
                report.approved.append(run_id)
                outcome = "approved; the run is queued"
            else:
                run = service.reject(self.plane, run_id, caller)
                report.rejected.append(run_id)
                outcome = f"rejected; the run is {run.status.value}"
        except HttpError as exc:
            # Already decided (an earlier pass, or the API): the run says what happened.
            outcome = f"not applied: {exc.message}"
        self._note_on_run(run_id, decision)
        if not record.decision_answered and record.issue_number is not None:
            self.client.comment(
                record.issue_number,
                f"{ANSWER_MARKER}\n{verdict.value.capitalize()} by @{decision['by']} "
                f"({decision['via']}, {decision['at']}): {outcome}.",
            )
            self.client.update_issue(record.issue_number, state="closed")
            report.closed.append(record.issue_number)
            self.records.update(
                run_id,
                lambda current: (
                    None
                    if current.decision_answered
                    else replace(current, decision_answered=True, closed=True)
                ),
            )
        _log.info(
            "approval decision applied",
            extra={"fields": {"run_id": run_id, "decision": verdict.value, "by": decision["by"]}},
        )

    def _note_on_run(self, run_id: str, decision: dict[str, Any]) -> None:
        """Who, when and how, on the run itself (its status is left as it is)."""

        def note(run: Run) -> Run | None:
            if run.extra.get("approval_decision") == decision or run.status.final:
                return None
            return run.evolve(
                self.plane.clock(), extra={**run.extra, "approval_decision": decision}
            )

        try:
            self.plane.runs.update(run_id, note)
        except Exception:  # noqa: BLE001 - the decision stands; the note is a courtesy
            _log.warning(
                "could not note the decision on the run", extra={"fields": {"run_id": run_id}}
            )

    # An issue whose run no longer waits (decided through the API, cancelled, gone).

    def _settle_finished(self, run_id: str, issue: Issue, report: SyncReport) -> None:
        record = self.records.get(run_id)
        if record is not None and record.decision is not None:
            if not record.decision_answered:
                self._apply(run_id, record, report)
            return
        if record is None or record.issue_number != issue.number:
            return  # not an issue this watcher opened or joined
        try:
            status = self.plane.runs.get(run_id).run.status.value
        except Exception:  # noqa: BLE001 - a missing run is simply gone
            status = "gone"
        self.client.comment(
            issue.number,
            f"{ANSWER_MARKER}\nRun `{run_id}` no longer waits for approval (it is {status}); "
            "closing.",
        )
        self.client.update_issue(issue.number, state="closed")
        report.closed.append(issue.number)
        self.records.update(run_id, lambda current: replace(current, closed=True))
