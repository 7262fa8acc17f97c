"""Report labels in English and Japanese.

The Japanese labels are the ones operators already read on their dashboards
(``Job実行状態``, ``キュー待ち``, ``承認待ち``, ``DLQ`` ...), not fresh translations.
"""

from __future__ import annotations

from enum import StrEnum


class Locale(StrEnum):
    EN = "en"
    JA = "ja"


LABELS: dict[Locale, dict[str, str]] = {
    Locale.EN: {
        "title.daily": "Daily observability report",
        "title.weekly": "Weekly observability report",
        "title.digest": "Weekly improvement digest",
        "period": "Period",
        "generated": "Generated",
        "summary": "Summary",
        "total_runs": "Runs",
        "success_rate": "Success rate",
        "failures": "Failures",
        "cancelled": "Cancelled",
        "retried": "Retried",
        "recovered": "Recovered after retry",
        "still_active": "Still active",
        "by_job_type": "By job type",
        "job_type": "Job type",
        "runs": "Runs",
        "failure_rate": "Failure rate",
        "p50": "p50",
        "p95": "p95",
        "top_failure_reasons": "Top failure reasons",
        "code": "Code",
        "reason": "Reason",
        "count": "Count",
        "no_failures": "No failures in this period.",
        "job_status": "Job status",
        "queued": "Queued",
        "running": "Running",
        "waiting_approval": "Waiting approval",
        "succeeded": "Succeeded",
        "failed": "Failed",
        "dead_letters": "Dead letters",
        "callback_dead_letters": "Callback dead letters",
        "backpressure": "Backpressure",
        "queue_utilization": "Queue utilization",
        "active": "active",
        "normal": "normal",
        "breakers": "Circuit breakers",
        "downstream": "Downstream",
        "state": "State",
        "no_breakers": "No circuit breaker has tripped.",
        "slo": "SLO status",
        "source": "Source",
        "burn": "Burn rate level",
        "breaches": "Consecutive breaches",
        "no_slo": "No latency sampling configured.",
        "recommendations": "Recommendations",
        "rec.run_triage": (
            "Dead letters are waiting: run `opsplane dlq triage`, then replay or purge."
        ),
        "rec.check_capacity": "Backpressure is active: check worker capacity and queue limits.",
        "rec.check_approvals": "Many runs are waiting for approval: check pending approvals.",
        "rec.check_callback_receiver": (
            "Callbacks are failing: check the callback receiver, then replay the callbacks."
        ),
        "daily_trend": "Daily trend",
        "day": "Day",
        "chart": "Chart",
        "incidents": "Top causes",
        "incident": "Cause",
        "first_seen": "First seen",
        "last_seen": "Last seen",
        "incident_count": "Incidents",
        "examples": "Example runs",
        "action": "Suggested action",
        "no_incidents": "No failed runs this week.",
        "na": "n/a",
    },
    Locale.JA: {
        "title.daily": "日次オブザーバビリティレポート",
        "title.weekly": "週次オブザーバビリティレポート",
        "title.digest": "週次改善ダイジェスト",
        "period": "期間",
        "generated": "生成日時",
        "summary": "概要",
        "total_runs": "実行数",
        "success_rate": "成功率",
        "failures": "失敗",
        "cancelled": "キャンセル",
        "retried": "リトライあり",
        "recovered": "リトライで回復",
        "still_active": "処理中",
        "by_job_type": "Job種別ごと",
        "job_type": "Job種別",
        "runs": "実行数",
        "failure_rate": "失敗率",
        "p50": "p50",
        "p95": "p95",
        "top_failure_reasons": "主な失敗理由",
        "code": "コード",
        "reason": "理由",
        "count": "件数",
        "no_failures": "この期間の失敗はありません。",
        "job_status": "Job実行状態",
        "queued": "キュー待ち",
        "running": "実行中",
        "waiting_approval": "承認待ち",
        "succeeded": "成功",
        "failed": "失敗",
        "dead_letters": "DLQ",
        "callback_dead_letters": "コールバックDLQ",
        "backpressure": "バックプレッシャー",
        "queue_utilization": "キュー使用率",
        "active": "発動中",
        "normal": "正常",
        "breakers": "サーキットブレーカー",
        "downstream": "接続先",
        "state": "状態",
        "no_breakers": "作動したサーキットブレーカーはありません。",
        "slo": "SLO状態",
        "source": "ソース",
        "burn": "バーンレート",
        "breaches": "連続違反",
        "no_slo": "レイテンシ計測は設定されていません。",
        "recommendations": "推奨アクション",
        "rec.run_triage": (
            "DLQにメッセージがあります: `opsplane dlq triage` で確認し、"
            "再実行または削除してください。"
        ),
        "rec.check_capacity": (
            "バックプレッシャーが発動中です: ワーカーの処理能力とキュー上限を確認してください。"
        ),
        "rec.check_approvals": "承認待ちのJobが多くあります: 承認待ちを確認してください。",
        "rec.check_callback_receiver": (
            "コールバックが失敗しています: 受信側を確認してからコールバックを再送してください。"
        ),
        "daily_trend": "日別推移",
        "day": "日付",
        "chart": "グラフ",
        "incidents": "主な原因",
        "incident": "原因",
        "first_seen": "初回",
        "last_seen": "最終",
        "incident_count": "インシデント数",
        "examples": "実行例",
        "action": "推奨アクション",
        "no_incidents": "今週の失敗はありません。",
        "na": "なし",
    },
}


def labels(locale: Locale | str) -> dict[str, str]:
    """The labels of ``locale``; ValueError for one we do not have."""
    return LABELS[Locale(locale)]
