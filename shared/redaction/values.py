"""Reading the value that follows a field name in free text.

``password=hunter2``, ``"token": "a\\"b"``, ``\\"secret\\": \\"x\\"`` (JSON inside a
JSON string), ``Cookie: a=1; b=2``: where the value starts and ends, and
whether it is worth redacting at all (``null``, ``${VAR}``, ``********`` and
file paths are not secrets; ``secret: permission denied`` is a sentence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.redaction.rules import WORD_CHARS

KEY_CHARS = WORD_CHARS | {"-", "."}
SEPARATOR = r"(?:\\?[\"'])?[ \t]*(?P<sep>:=|=>|[:=])[ \t]*"

# Values that say "no secret here": empty markers, already-masked values,
# references to where the secret lives, and file paths.
_HARMLESS_VALUE = re.compile(
    r"(?i:null|none|nil|true|false|undefined|n/a|redacted|masked|hidden|changeme)"
    r"|\*+|x{3,}|\.{3}|<[^<>]*>|\[REDACTED[A-Z_]*\]"
    r"|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\$?\{\{.*\}\}|%\([^)]*\)s"
    r"|(?:/|\./|~/)[A-Za-z0-9_./-]*"
)
# Source lines quoted in tracebacks: ``token = request.bearer_token()`` and
# ``secret = DEFAULT_SECRET`` name where a secret comes from, not the secret.
_CODE_VALUE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*[(\[]|[A-Z][A-Z0-9]*_[A-Z0-9_]+\Z")
_UNQUOTED_VALUE = re.compile(r"[^\s,;&\"'<>\])}\\]+")
_PROSE_WORD = re.compile(r"[a-z]+")
_QUOTED_BODY = {
    '"': re.compile(r'(?:[^"\\\n]|\\.)*'),
    "'": re.compile(r"(?:[^'\\\n]|\\.)*"),
}


@dataclass(frozen=True)
class Value:
    start: int
    end: int
    quoted: bool


def value_at(text: str, pos: int) -> Value | None:
    """The value that starts at ``pos``: quoted (with escapes), or one bare token."""
    if pos >= len(text):
        return None
    if text.startswith('\\"', pos):
        end = text.find('\\"', pos + 2, line_end(text, pos))
        if end == -1:
            end = line_end(text, pos)
        return Value(pos + 2, end, quoted=True)
    if text.startswith(("{{", "${{"), pos):
        closing = text.find("}}", pos, line_end(text, pos))
        if closing != -1:
            return Value(pos, closing + 2, quoted=False)  # a template reference
    body = _QUOTED_BODY.get(text[pos])
    if body is not None:
        inside = body.match(text, pos + 1, line_end(text, pos))
        return Value(pos + 1, inside.end() if inside else pos + 1, quoted=True)
    found = _UNQUOTED_VALUE.match(text, pos, line_end(text, pos))
    return Value(pos, found.end(), quoted=False) if found else None


# Every search from a match is bounded, so a text with thousands of matches
# on one huge line stays linear instead of rescanning the line per match.
REACH = 1024
_KEY_REACH = 256


def line_end(text: str, pos: int) -> int:
    """End of the line at ``pos`` (or ``REACH`` characters on, if sooner)."""
    limit = min(len(text), pos + REACH)
    end = text.find("\n", pos, limit)
    return limit if end == -1 else end


def line_start(text: str, pos: int) -> int:
    """Start of the line at ``pos`` (or ``REACH`` characters back, if later)."""
    limit = max(0, pos - REACH)
    start = text.rfind("\n", limit, pos)
    return limit if start == -1 else start + 1


def key_before(text: str, end: int) -> tuple[int, str]:
    """The field name that ends at ``end`` (scanning back over name characters)."""
    start = end
    floor = max(0, end - _KEY_REACH)
    while start > floor and text[start - 1] in KEY_CHARS:
        start -= 1
    return start, text[start:end]


def is_prose(text: str, value: Value, separator: str) -> bool:
    """``secret: permission denied`` is a sentence, not a secret."""
    if value.quoted or separator != ":":
        return False
    word = text[value.start : value.end]
    if not _PROSE_WORD.fullmatch(word):
        return False
    after = text[value.end : value.end + 2]
    return len(after) == 2 and after[0] == " " and after[1].islower()


def harmless(text: str, value: Value, placeholder: str) -> bool:
    """Nothing to hide, or already hidden (redacting twice changes nothing)."""
    raw = text[value.start : value.end].strip()
    return (
        not raw
        or raw.startswith("[REDACTED")
        or text.startswith(placeholder, value.start)
        or _HARMLESS_VALUE.fullmatch(raw) is not None
        or (not value.quoted and _CODE_VALUE.match(raw) is not None)
    )


def rest_of_value(text: str, pos: int) -> Value:
    """A value that may hold spaces (cookie lists, Digest parameters): to the line's end.

    A bare double quote ends it too, so a header quoted inside a JSON string
    leaves the string closed; quotes that open a parameter (``response="..."``)
    do not.
    """
    end = pos
    limit = line_end(text, pos)
    in_parameter = False
    while end < limit and text[end] != "\r":
        char = text[end]
        if char == '"':
            if in_parameter:
                in_parameter = False
            elif text[end - 1] == "=":
                in_parameter = True
            else:
                break
        end += 1
    while end > pos and text[end - 1] in " \t\\":
        end -= 1
    return Value(pos, end, quoted=False)
