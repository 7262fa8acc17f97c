"""Redaction of secrets from text and structured data (being expanded)."""

from __future__ import annotations

import re
from typing import Any

_PATTERNS = [
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}\b|\bgithub_pat_\w{20,}"), "[REDACTED_GH_TOKEN]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [REDACTED]"),
]
_SECRET_KEYS = re.compile(r"(?i)(password|passwd|secret|token|authorization|api[_-]?key)")


def redact_text(text: str) -> str:
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


def redact_data(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: "[REDACTED]" if isinstance(k, str) and _SECRET_KEYS.search(k) else redact_data(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value
