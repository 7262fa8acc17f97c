"""The triage summary as a Markdown issue body.

Rendered from the already-redacted summary; every cell is redacted once more
(ids of the shape opsplane generates excepted, see ``triage.safe_id``) and
escaped so a message cannot break the table or inject markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.dlq.triage import TriageSummary, safe_id
from shared.redaction import redact_text

MARKER = "<!-- opsplane:dlq-triage -->"


class _IdCell(str):
    """A table cell holding an id: shown by ``safe_id`` rather than redacted whole."""

    __slots__ = ()


def _cell(value: Any) -> str:
    if isinstance(value, _IdCell):
        return _id_cell(value)
    text = "" if value is None else redact_text(str(value))
    return _escape(text)


def _id_cell(value: Any) -> str:
    return _escape(safe_id(str(value)))


def _escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    text = text.replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")
    return text[:300]


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    head = list(headers)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def _counts(title: str, label: str, counts: Mapping[str, int]) -> list[str]:
    if not counts:
        return []
    return [f"### {title}", "", *_table((label, "count"), counts.items()), ""]


def render_markdown(summary: TriageSummary | Mapping[str, Any]) -> str:
    """The issue body for a triage summary."""
    doc = summary.to_dict() if isinstance(summary, TriageSummary) else dict(summary)
    lines = [
        MARKER,
        "## Dead-letter triage",
        "",
        f"Generated {doc['generated_at']} · **{doc['total']}** dead letters",
    ]
    if doc.get("filters"):
        shown = ", ".join(f"{k}={_cell(v)}" for k, v in doc["filters"].items())
        lines.append(f"Filters: {shown}")
    if doc.get("oldest") and doc.get("newest"):
        lines.append(
            f"Oldest {doc['oldest']['created_at']} (`{_id_cell(doc['oldest']['id'])}`), "
            f"newest {doc['newest']['created_at']} (`{_id_cell(doc['newest']['id'])}`)"
        )
    if doc.get("unreadable"):
        lines.append(f"{doc['unreadable']} dead letters could not be read.")
    lines.append("")
    lines += _counts("By job type", "job type", doc["by_job_type"])
    lines += _counts("By error code", "error code", doc["by_code"])
    if doc["top_reasons"]:
        lines += ["### Top reasons", ""]
        lines += _table(
            ("count", "code", "reason", "job types", "example", "last seen"),
            (
                (
                    r["count"],
                    r["error_code"],
                    r["reason"],
                    ", ".join(r["job_types"]),
                    r["example"],
                    r["last_seen"],
                )
                for r in doc["top_reasons"]
            ),
        )
        lines.append("")
    if doc["samples"]:
        lines += [f"### Newest {len(doc['samples'])} samples", ""]
        lines += _table(
            ("id", "kind", "job type", "code", "created", "attempts", "message"),
            (
                (
                    _IdCell(s["id"]),
                    s["kind"],
                    s["job_type"],
                    s["error_code"],
                    s["created_at"],
                    s["attempts"],
                    s["message"],
                )
                for s in doc["samples"]
            ),
        )
        lines.append("")
    return "\n".join(lines)
