"""The weekly improvement digest: failed runs grouped into incidents, top causes first.

A cause is a job type and error code. Its failures form one incident while
each follows the previous within ``INCIDENT_GAP``; a new incident starts after
a quiet gap. The digest ranks causes by failed runs and shows the top three,
each with its incidents, example runs and a suggested action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.reports.i18n import Locale
from shared.reports.tally import FailureTally, Tally, minute_time

INCIDENT_GAP = timedelta(minutes=30)
TOP_CAUSES = 3

_ACTIONS: dict[str, dict[Locale, str]] = {
    "timeout": {
        Locale.EN: "Raise the job type's timeout or split the work; "
        "check the downstream's latency.",
        Locale.JA: "Jobのタイムアウトを延ばすか処理を分割し、"
        "接続先のレイテンシを確認してください。",
    },
    "temporary_failure": {
        Locale.EN: "Check the downstream's health and the retry policy; replay the dead letters "
        "once it recovers.",
        Locale.JA: "接続先の状態とリトライ設定を確認し、回復後にDLQを再実行してください。",
    },
    "rate_limit": {
        Locale.EN: "Lower the dispatch rate for this job type or ask for a higher quota.",
        Locale.JA: "このJob種別の実行レートを下げるか、クォータの引き上げを依頼してください。",
    },
    "circuit_open": {
        Locale.EN: "The downstream kept failing: fix it first, then replay the dead letters.",
        Locale.JA: "接続先が失敗し続けています: 先に接続先を直し、その後DLQを再実行してください。",
    },
    "auth": {
        Locale.EN: "Rotate or fix the credentials the job uses; retries will not help.",
        Locale.JA: "Jobが使う認証情報を修正してください。リトライでは解決しません。",
    },
    "bad_request": {
        Locale.EN: "Fix the parameters callers submit (validate them at submit time).",
        Locale.JA: "呼び出し側が送るパラメータを修正してください。",
    },
    "not_found": {
        Locale.EN: "The target no longer exists: update or retire the callers that reference it.",
        Locale.JA: "対象が存在しません: 参照している呼び出し元を修正してください。",
    },
    "lease_expired": {
        Locale.EN: "Workers died mid-run: check memory limits and instance restarts.",
        Locale.JA: "実行中にワーカーが停止しています: メモリ上限と再起動を確認してください。",
    },
    "task_lost": {
        Locale.EN: "Tasks never reached the worker: check the queue's target URL and IAM.",
        Locale.JA: "タスクがワーカーに届いていません: キューの送信先とIAMを確認してください。",
    },
}
_DEFAULT_ACTION = {
    Locale.EN: "Read the example runs, fix the cause, then replay the dead letters.",
    Locale.JA: "実行例を確認して原因を修正し、DLQを再実行してください。",
}


@dataclass(frozen=True)
class Incident:
    """A burst of failures of one cause."""

    start: datetime
    end: datetime
    failures: int


@dataclass(frozen=True)
class Cause:
    """One job type + error code, its incidents and what to do about it."""

    job_type: str
    code: str
    reason: str
    failures: int
    incidents: tuple[Incident, ...]
    examples: tuple[str, ...]

    @property
    def first_seen(self) -> datetime:
        return self.incidents[0].start

    @property
    def last_seen(self) -> datetime:
        return self.incidents[-1].end

    def action(self, locale: Locale | str) -> str:
        """The suggested action for this cause, in ``locale``."""
        return _ACTIONS.get(self.code, _DEFAULT_ACTION)[Locale(locale)]


def incidents_of(failure: FailureTally, gap: timedelta = INCIDENT_GAP) -> list[Incident]:
    """Split a cause's failure minutes into incidents separated by quiet gaps."""
    gap_minutes = int(gap.total_seconds() // 60)
    incidents: list[Incident] = []
    start = end = None
    count = 0
    for minute in sorted(failure.minutes):
        if end is not None and minute - end > gap_minutes:
            incidents.append(Incident(minute_time(start or end), minute_time(end), count))
            start, count = None, 0
        if start is None:
            start = minute
        end = minute
        count += failure.minutes[minute]
    if end is not None:
        incidents.append(Incident(minute_time(start or end), minute_time(end), count))
    return incidents


def top_causes(tally: Tally, limit: int = TOP_CAUSES) -> list[Cause]:
    """The causes with the most failed runs, most first."""
    causes = []
    for failure in tally.failures.values():
        incidents = incidents_of(failure)
        if not incidents:
            continue
        causes.append(
            Cause(
                job_type=failure.job_type,
                code=failure.code,
                reason=failure.reason,
                failures=sum(i.failures for i in incidents),
                incidents=tuple(incidents),
                examples=tuple(failure.examples),
            )
        )
    causes.sort(key=lambda c: (-c.failures, c.job_type, c.code))
    return causes[:limit]
