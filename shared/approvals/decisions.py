"""Decisions read from an approval issue: ``/approve`` / ``/reject`` comments and labels."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.clock import isoformat

# The watcher's own comments carry this marker, so they are never read as commands.
ANSWER_MARKER = "<!-- opsplane:approval-answer -->"
_COMMAND = re.compile(r"^\s*/(approve|reject)\b", re.IGNORECASE)


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class Via(enum.StrEnum):
    """How a decision was given on GitHub."""

    COMMENT = "comment"
    LABEL = "label"


def parse_command(body: str) -> Decision | None:
    """The decision a comment gives: its first line is ``/approve`` or ``/reject``."""
    if ANSWER_MARKER in body:
        return None
    match = _COMMAND.match(body)
    return Decision(match.group(1).lower()) if match else None


@dataclass(frozen=True)
class Verdict:
    """A decision by someone, at some time, through a comment or a label."""

    decision: Decision
    login: str
    at: datetime
    via: Via
    issue: int
    reference: str  # "comment:<id>" or "label:<event id>": what the answer replies to

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "by": self.login,
            "at": isoformat(self.at),
            "via": self.via.value,
            "issue": self.issue,
            "reference": self.reference,
        }
