"""Dead letters: triage, replay and purge.

    letters    read job (``dlq/jobs/``) and callback (``dlq/callbacks/``) dead letters, filter them
    normalise  failure messages without ids, numbers and times, so one cause is one group
    triage     the summary: counts by job type and code, top reasons, oldest/newest, samples
    markdown   the summary as a Markdown issue body
    post       create or update the triage issue on GitHub (label ``opsplane-triage``)
    replay     re-run dead-lettered runs exactly once each (open -> replaying -> resolved)
    purge      delete dead letters, leaving an audit record under ``dlq/audit/``

Everything that leaves this package is redacted.
"""

from __future__ import annotations

from shared.dlq.letters import DeadLetterEntry, DlqFilter, LetterKind, iter_letters
from shared.dlq.markdown import render_markdown
from shared.dlq.normalise import normalise_message
from shared.dlq.post import TRIAGE_LABEL, PostResult, post_triage
from shared.dlq.purge import PurgeReport, purge
from shared.dlq.replay import ReplayReport, replay
from shared.dlq.triage import TriageSummary, summarise, triage

__all__ = [
    "TRIAGE_LABEL",
    "DeadLetterEntry",
    "DlqFilter",
    "LetterKind",
    "PostResult",
    "PurgeReport",
    "ReplayReport",
    "TriageSummary",
    "iter_letters",
    "normalise_message",
    "post_triage",
    "purge",
    "render_markdown",
    "replay",
    "summarise",
    "triage",
]
