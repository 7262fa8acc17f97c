"""A report as the canonical JSON payload: what ``--format json`` prints, what
webhooks receive and what history keeps. ``payload.schema.json`` describes it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from shared.clock import isoformat
from shared.redaction import redact_data
from shared.reports.aggregate import Report
from shared.reports.i18n import Locale
from shared.reports.render_md import RUN_ID

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("payload.schema.json")


class PayloadInvalid(ValueError):
    """The payload does not match the schema; ``problems`` names each field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("report payload is invalid: " + "; ".join(problems))
        self.problems = problems


def to_payload(report: Report, locale: Locale | str = Locale.EN) -> dict[str, Any]:
    """The report as the canonical, redacted JSON document."""
    totals, status = report.totals, report.status
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": report.kind.value,
        "locale": Locale(locale).value,
        "generated_at": isoformat(report.generated_at),
        "period_start": isoformat(report.period_start),
        "period_end": isoformat(report.period_end),
        "timezone": report.timezone,
        "runs": {
            "total": totals.runs,
            "succeeded": totals.succeeded,
            "failed": totals.failed,
            "cancelled": totals.cancelled,
            "active": totals.active,
            "retried": totals.retried,
            "recovered": totals.recovered,
            "success_rate": totals.success_rate,
            "by_job_type": [
                {
                    "job_type": row.job_type,
                    "runs": row.runs,
                    "succeeded": row.succeeded,
                    "failed": row.failed,
                    "failure_rate": row.failure_rate,
                    "p50_ms": row.p50_ms,
                    "p95_ms": row.p95_ms,
                }
                for row in report.job_types
            ],
            "top_failure_reasons": [
                {"code": r.code, "reason": r.reason, "count": r.count} for r in report.top_reasons
            ],
        },
        "latency": {
            "p50_ms": totals.p50_ms,
            "p95_ms": totals.p95_ms,
            "slo": [
                {
                    "source": s.source,
                    "state": s.state,
                    "burn_level": s.burn_level,
                    "consecutive_breaches": s.consecutive_breaches,
                }
                for s in report.slos
            ],
        },
        "job_status": {
            "queued": status.queued,
            "running": status.running,
            "waiting_approval": status.waiting_approval,
            "succeeded": status.succeeded,
            "failed": status.failed,
            "dead_letters": status.dead_letters,
            "callback_dead_letters": status.callback_dead_letters,
            "backpressure": "active" if status.backpressure_active else "normal",
            "queue_utilization_pct": status.queue_utilization_pct,
        },
        "breakers": [
            {"downstream": b.downstream, "state": b.state, "failures": b.failures}
            for b in report.breakers
        ],
        "alerts": [
            {"kind": a.kind, "severity": a.severity, "subject": a.subject, "state": a.state}
            for a in report.alerts
        ],
        "recommendations": [rec.value for rec in report.recommendations],
    }
    if report.days:
        doc["daily"] = [
            {
                "date": d.day.isoformat(),
                "runs": d.runs,
                "success_rate": d.success_rate,
                "p95_ms": d.p95_ms,
            }
            for d in report.days
        ]
    if report.causes:
        doc["causes"] = [
            {
                "job_type": c.job_type,
                "code": c.code,
                "reason": c.reason,
                "failures": c.failures,
                "incidents": [
                    {"start": isoformat(i.start), "end": isoformat(i.end), "failures": i.failures}
                    for i in c.incidents
                ],
                "examples": list(c.examples),
                "action": c.action(locale),
            }
            for c in report.causes
        ]
    redacted: dict[str, Any] = redact_data(doc)
    # Example run ids are ours and well-formed; the redactor takes them for keys.
    for cause, original in zip(redacted.get("causes", []), doc.get("causes", []), strict=True):
        cause["examples"] = [x for x in original["examples"] if RUN_ID.fullmatch(x)]
    return redacted


@functools.cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_payload(payload: Any) -> None:
    """Raise PayloadInvalid naming every field that does not match the schema."""
    problems = []
    for error in _validator().iter_errors(payload):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(f"{where}: {error.message}")
    if problems:
        raise PayloadInvalid(sorted(problems))
