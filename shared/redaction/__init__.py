"""Redaction of secrets from everything that leaves the system.

Reports, triage notes, issue bodies, webhook payloads, dead letters and logs
all pass through here. ``redact_text`` and ``redact_data`` use a process-wide
redactor built from the environment (``OPSPLANE_REDACTION_PATTERNS``, a JSON
list of extra regexes, and ``OPSPLANE_REDACTION_PLACEHOLDER``); code with its
own configuration (a schedule's ``redaction.patterns``) builds a
``Redactor(patterns, placeholder)``.

    >>> redact_text("token=ghp_" + "a1B2" * 9)
    'token=[REDACTED_GH_TOKEN]'

What stays readable: ISO timestamps, UUIDs, job ids, git SHAs (short and
40-hex), URLs without credentials, paths, numbers and ordinary words.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from shared.redaction import placeholders
from shared.redaction.keys import is_secret_key
from shared.redaction.redactor import (
    PATTERNS_ENV,
    PLACEHOLDER_ENV,
    RedactionConfigError,
    Redactor,
)
from shared.settings import SettingsError

__all__ = [
    "PATTERNS_ENV",
    "PLACEHOLDER_ENV",
    "RedactionConfigError",
    "Redactor",
    "default_redactor",
    "is_secret_key",
    "placeholders",
    "redact_data",
    "redact_text",
]

_lock = threading.Lock()
_default: tuple[tuple[str, str], Redactor] | None = None


def default_redactor() -> Redactor:
    """The redactor for the current environment, rebuilt when its variables change.

    Never raises: redaction sits on the path of every log line, so a
    malformed custom pattern falls back to the built-in rules rather than
    breaking logging. ``Redactor.from_env`` is the strict check for start-up.
    """
    global _default  # noqa: PLW0603 - one cached redactor per process, by design
    config = (os.environ.get(PATTERNS_ENV, ""), os.environ.get(PLACEHOLDER_ENV, ""))
    cached = _default
    if cached is not None and cached[0] == config:
        return cached[1]
    with _lock:
        try:
            redactor = Redactor.from_env(os.environ)
        except SettingsError:
            redactor = Redactor(placeholder=config[1].strip() or placeholders.REDACTED)
        _default = (config, redactor)
    return redactor


def redact_text(text: str) -> str:
    """``text`` with every secret replaced by a placeholder."""
    return default_redactor().redact_text(text)


def redact_data(value: Any) -> Any:
    """A copy of ``value`` (dicts, lists, tuples, sets walked) without secrets."""
    return default_redactor().redact_data(value)
