"""Post the triage to GitHub: update the open triage issue, or open one.

The open issue carrying ``opsplane-triage`` is the one place operators look,
so a second triage updates it instead of opening another. When several are
open (someone opened one by hand), the oldest is kept up to date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.dlq.markdown import render_markdown
from shared.dlq.triage import TriageSummary
from shared.redaction import redact_text

if TYPE_CHECKING:
    from shared.github import GitHubClient

TRIAGE_LABEL = "opsplane-triage"
TITLE = "Dead-letter triage"


@dataclass(frozen=True)
class PostResult:
    """What posting did: ``created`` or ``updated`` issue ``number``."""

    action: str
    number: int
    url: str

    def to_dict(self) -> dict[str, object]:
        return {"action": self.action, "number": self.number, "url": self.url}


def post_triage(
    client: GitHubClient, summary: TriageSummary, *, label: str = TRIAGE_LABEL
) -> PostResult:
    """Create or update the triage issue with the summary's Markdown body."""
    body = render_markdown(summary)
    title = redact_text(f"{TITLE}: {summary.total} dead letters")
    existing = client.find_open_issues(label)
    if existing:
        target = min(existing, key=lambda issue: issue.number)
        issue = client.update_issue(target.number, title=title, body=body)
        return PostResult("updated", issue.number, issue.html_url)
    issue = client.create_issue(title, body, labels=[label])
    return PostResult("created", issue.number, issue.html_url)
