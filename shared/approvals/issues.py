"""Approval issues on GitHub: their title and body, finding a run's issue, label events.

The run id is in the title and in a hidden marker in the body, so an issue
can be joined (found again) even when the watcher lost its record. Every
other part is redacted piece by piece; the run id is shown as generated
(``safe_id``), since the entropy rules can take its random suffix for a token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.approvals.settings import ApprovalSettings
from shared.clock import isoformat, parse_iso
from shared.dlq.triage import safe_id
from shared.jobs.models import Run
from shared.redaction import redact_data, redact_text

if TYPE_CHECKING:
    from shared.github import GitHubClient, Issue

_MARKER = re.compile(r"<!-- opsplane:approval run_id=([A-Za-z0-9_.-]{1,200}) -->")
_TITLE = re.compile(r"\brun ([0-9]{8}T[0-9]{6,12}Z-[0-9a-f]{4,32})\b")


def issue_title(run: Run) -> str:
    return f"Approval needed: {redact_text(run.job_type)} run {safe_id(run.run_id)}"


def issue_body(run: Run, settings: ApprovalSettings) -> str:
    """What approvers see: the run, redacted, and how to decide."""
    params = json.dumps(redact_data(run.params), indent=2, sort_keys=True)[:4000]
    approvers = ", ".join(f"@{login}" for login in sorted(settings.approvers)) or "nobody yet"
    lines = [
        f"<!-- opsplane:approval run_id={safe_id(run.run_id)} -->",
        f"Run `{safe_id(run.run_id)}` ({redact_text(run.job_type)}, "
        f"owner `{redact_text(run.owner)}`, "
        f"priority {run.priority}) is waiting for approval since {isoformat(run.updated_at)}.",
        "",
    ]
    if run.attempts:
        lines += [
            f"It was escalated after {len(run.attempts)} attempts: "
            f"`{redact_text(run.error_code or '')}` {redact_text(run.error_message or '')}",
            "",
        ]
    lines += [
        "Parameters (redacted):",
        "```json",
        params.replace("```", "'''"),
        "```",
        "",
        f"Comment `/approve` or `/reject`, or add the label `{settings.approved_label}` or "
        f"`{settings.rejected_label}`. Allowed approvers: {approvers}.",
    ]
    return "\n".join(lines)


def run_id_of(issue: Issue) -> str | None:
    """The run an approval issue is about (body marker first, then title)."""
    match = _MARKER.search(issue.body) or _TITLE.search(issue.title)
    return match.group(1) if match else None


@dataclass(frozen=True)
class LabelEvent:
    """Someone added a label to an issue."""

    id: int
    label: str
    actor: str
    created_at: datetime | None


def label_events(client: GitHubClient, number: int) -> Iterator[LabelEvent]:
    """``labeled`` events of an issue, oldest first: who added which label, when.

    The client has no events call of its own; its pagination (same host,
    same token handling, same rate-limit waits) is reused for this one GET.
    """
    url = client._repo(f"/issues/{int(number)}/events")  # see docstring
    for item in client._paginate(url, {"per_page": "100"}):
        event = _label_event(item)
        if event is not None:
            yield event


def _label_event(item: dict[str, Any]) -> LabelEvent | None:
    if item.get("event") != "labeled":
        return None
    label = (item.get("label") or {}).get("name")
    actor = (item.get("actor") or {}).get("login")
    if not label or not actor:
        return None
    created = item.get("created_at")
    try:
        created_at = parse_iso(str(created)) if created else None
    except ValueError:
        created_at = None
    return LabelEvent(int(item.get("id") or 0), str(label), str(actor), created_at)
