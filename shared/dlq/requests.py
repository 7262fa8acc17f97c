"""Filters and options from HTTP input, as 400s with a clear message when wrong.

The dlq function only authenticates and calls these; the CLI builds the
same :class:`~shared.dlq.letters.DlqFilter` from its flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.clock import parse_iso
from shared.dlq.letters import DlqFilter, LetterKind
from shared.http.errors import BadRequest

MAX_IDS = 1000
MAX_REPLAY_LIMIT = 1000
DEFAULT_REPLAY_LIMIT = 100
_QUERY_FIELDS = {"since", "until", "job_type", "code", "kind"}
_REPLAY_FIELDS = {"ids", "job_type", "code", "since", "until", "kind", "dry_run", "limit", "all"}


@dataclass(frozen=True)
class ReplayRequest:
    """A validated ``POST /dlq/replay`` body."""

    selection: DlqFilter
    dry_run: bool
    limit: int


def _time(name: str, value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name!r} must be an ISO 8601 time string")
    try:
        return parse_iso(value)
    except ValueError:
        raise BadRequest(f"{name!r} must be an ISO 8601 time, got {value[:40]!r}") from None


def _text(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise BadRequest(f"{name!r} must be a string of at most 200 characters")
    return value


def _kinds(value: Any) -> frozenset[LetterKind]:
    if value is None or value == "":
        return frozenset(LetterKind)
    try:
        return frozenset({LetterKind(value)})
    except ValueError:
        known = [kind.value for kind in LetterKind]
        raise BadRequest(f"'kind' must be one of {known}, got {str(value)[:40]!r}") from None


def build_filter(source: Mapping[str, Any], ids: frozenset[str] = frozenset()) -> DlqFilter:
    """The filter ``since``/``until``/``job_type``/``code``/``kind`` describe."""
    since, until = _time("since", source.get("since")), _time("until", source.get("until"))
    if since and until and since > until:
        raise BadRequest("'since' must not be after 'until'")
    return DlqFilter(
        ids=ids,
        job_type=_text("job_type", source.get("job_type")),
        code=_text("code", source.get("code")),
        since=since,
        until=until,
        kinds=_kinds(source.get("kind")),
    )


def triage_filter(query: Mapping[str, str]) -> DlqFilter:
    """``GET /dlq/triage`` query parameters as a filter; unknown ones are a 400."""
    unknown = set(query) - _QUERY_FIELDS
    if unknown:
        raise BadRequest(
            f"unknown query parameters {sorted(unknown)}; use {sorted(_QUERY_FIELDS)}",
            code="unknown_parameter",
        )
    return build_filter(query)


def replay_request(doc: Mapping[str, Any]) -> ReplayRequest:
    """Validate a replay body; a replay of everything must say ``"all": true``."""
    unknown = set(doc) - _REPLAY_FIELDS
    if unknown:
        raise BadRequest(f"unknown fields {sorted(unknown)}", code="unknown_field")
    raw_ids = doc.get("ids", [])
    if not isinstance(raw_ids, list) or not all(
        isinstance(i, str) and 0 < len(i) <= 200 for i in raw_ids
    ):
        raise BadRequest("'ids' must be a list of dead-letter ids (strings)")
    if len(raw_ids) > MAX_IDS:
        raise BadRequest(f"at most {MAX_IDS} ids per request")
    selection = build_filter(doc, frozenset(raw_ids))
    for flag in ("dry_run", "all"):
        if not isinstance(doc.get(flag, False), bool):
            raise BadRequest(f"{flag!r} must be true or false")
    limit = doc.get("limit", DEFAULT_REPLAY_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_REPLAY_LIMIT:
        raise BadRequest(f"'limit' must be an integer 1..{MAX_REPLAY_LIMIT}")
    narrowed = any(
        (
            selection.ids,
            selection.job_type,
            selection.code,
            selection.since,
            selection.until,
            selection.kinds != frozenset(LetterKind),
        )
    )
    if not narrowed and not doc.get("all", False):
        raise BadRequest(
            'give ids, job_type, code, kind or a time range, or "all": true',
            code="no_filter",
        )
    return ReplayRequest(selection, bool(doc.get("dry_run", False)), limit)
