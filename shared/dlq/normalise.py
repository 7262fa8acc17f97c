"""Failure messages reduced to their cause, so ids and numbers don't split a group.

``"run 20261125T101500123456Z-ab12cd took 31.5s (attempt 3)"`` and
``"run 20261124T090000000001Z-ff00aa took 2s (attempt 1)"`` are one reason:
``"run <id> took <n>s (attempt <n>)"``. Order matters: uuids before
timestamps (a uuid's groups look like dates), both before bare numbers.
"""

from __future__ import annotations

import re

MAX_REASON_CHARS = 200

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    # ISO 8601 times and dates (with or without separators, offsets, fractions).
    (
        re.compile(
            r"\b\d{4}-?\d{2}-?\d{2}(?:[T ]\d{2}:?\d{2}(?::?\d{2})?(?:[.,]\d+)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?)?\b"
        ),
        "<time>",
    ),
    # opsplane run ids: 20261125T101500123456Z-ab12cd34ef (and the <time> left of it).
    (re.compile(r"<time>-[0-9a-f]{6,}\b"), "<id>"),
    (re.compile(r"\b\d{8}T\d{6}\d*Z(?:-[0-9a-f]+)?\b"), "<id>"),
    # Long hex (hashes, object ids) and tokens mixing letters and digits.
    (re.compile(r"\b(?:0x)?[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"\b(?=[A-Za-z_-]*\d)(?=\d*[A-Za-z])[A-Za-z0-9_-]{12,}\b"), "<id>"),
    (re.compile(r"\b\d+\.\d+\.\d+\.\d+(?::\d+)?\b"), "<ip>"),
    # HTTP statuses name the cause ("HTTP 503" is not "HTTP 404"): they stay.
    (
        re.compile(r"(?<![A-Za-z0-9.])(?<!HTTP )(?<!status )(?<!status=)[-+]?\d+(?:\.\d+)?"),
        "<n>",
    ),
    (re.compile(r"'[^']{1,80}'|\"[^\"]{1,80}\""), "<str>"),
    (re.compile(r"\s+"), " "),
)


def normalise_message(message: str) -> str:
    """``message`` with times, uuids, ids, hex, addresses, numbers and quoted values replaced."""
    text = message.strip()
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    text = text.strip()
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 1] + "…"
    return text or "(no message)"
