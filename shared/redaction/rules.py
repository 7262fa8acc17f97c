"""The building blocks of the redactor: rules that find spans to replace.

A rule reports ``Span``s (start, end, replacement); the redactor resolves
overlaps between rules and rewrites the text once. Working on spans of the
original text, rather than chaining ``re.sub`` calls, means one rule never
sees another's placeholder and the result does not depend on how rules
interact.

Speed comes from two habits. Every built-in pattern starts with a literal
(``ghp_``, ``AKIA``, ``://``, ``password``), which CPython's regex engine
finds with a fast substring search instead of trying the pattern at every
position; left-hand word boundaries, which would defeat that, are checked in
Python on the (rare) matches instead. And every rule names ``triggers``:
literals of which at least one must occur before the pattern runs at all, so
an ordinary log line costs a few substring tests.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol


class Span(NamedTuple):
    """A piece of text to replace, and what replaces it."""

    start: int
    end: int
    replacement: str
    # A contextual span (a value after ``password=``) that overlaps a more
    # specific one still redacts the part the specific one does not cover.
    fill: bool = False


class Rule(Protocol):
    """Anything that can find secrets in a text."""

    @property
    def name(self) -> str: ...

    def find(self, text: str, lowered: str, placeholder: str) -> Iterator[Span]:
        """Spans of ``text`` to replace; ``lowered`` is ``text.lower()``."""
        ...


# A judge sees a match and the original text and decides: a span, or nothing.
Judge = Callable[[re.Match[str], str, str], Span | None]

WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
TOKEN_CHARS = WORD_CHARS | {"-"}


def starts_token(text: str, start: int, chars: frozenset[str] = TOKEN_CHARS) -> bool:
    """True when ``text[start]`` begins a token (what ``(?<![chars])`` would check)."""
    return start == 0 or text[start - 1] not in chars


@dataclass(frozen=True)
class PatternRule:
    """A regular expression with a placeholder, optional triggers and judge.

    Without a judge, a match is replaced whole, or only its ``secret`` group
    when the pattern has one (so ``Bearer`` or ``postgres://`` can stay). A
    rule with ``fold_case`` runs its lowercase pattern on the lowercased text
    and checks its lowercase triggers there; spans map back one to one.
    ``bounded`` rejects matches glued to a preceding token character.
    ``placeholder`` None means the redactor's configurable generic one.
    """

    name: str
    pattern: re.Pattern[str]
    placeholder: str | None = None
    triggers: tuple[str, ...] = ()
    fold_case: bool = False
    bounded: bool = False
    judge: Judge | None = None

    def find(self, text: str, lowered: str, placeholder: str) -> Iterator[Span]:
        haystack = lowered if self.fold_case else text
        if self.triggers and not any(t in haystack for t in self.triggers):
            return
        replacement = self.placeholder or placeholder
        has_secret_group = "secret" in self.pattern.groupindex
        for match in self.pattern.finditer(haystack):
            if self.bounded and not starts_token(text, match.start()):
                continue
            if self.judge is not None:
                span = self.judge(match, text, replacement)
                if span is not None:
                    yield span
                continue
            if has_secret_group and match.start("secret") >= 0:
                if match.end("secret") > match.start("secret"):
                    yield Span(match.start("secret"), match.end("secret"), replacement)
                continue
            yield Span(match.start(), match.end(), replacement)


def resolve(spans: list[tuple[int, Span]]) -> list[Span]:
    """Non-overlapping spans in text order; on overlap the earlier rule wins.

    ``spans`` holds (rule priority, span). A losing span is dropped, unless it
    is a ``fill`` span, whose uncovered parts are still redacted. Accepted
    spans are kept sorted, so each overlap test is a binary search and a text
    with thousands of secrets stays fast.
    """
    starts: list[int] = []
    ends: list[int] = []
    accepted: list[Span] = []

    def accept(span: Span) -> None:
        index = bisect.bisect_left(starts, span.start)
        starts.insert(index, span.start)
        ends.insert(index, span.end)
        accepted.insert(index, span)

    for _, span in sorted(spans, key=lambda item: (item[0], item[1].start, -item[1].end)):
        first = bisect.bisect_right(ends, span.start)  # first accepted ending after our start
        last = first
        while last < len(starts) and starts[last] < span.end:
            last += 1
        if first == last:
            accept(span)
        elif span.fill:
            pieces = []
            cursor = span.start
            for index in range(first, last):
                if starts[index] > cursor:
                    pieces.append(Span(cursor, starts[index], span.replacement))
                cursor = max(cursor, ends[index])
            if cursor < span.end:
                pieces.append(Span(cursor, span.end, span.replacement))
            for piece in pieces:
                accept(piece)
    return accepted


def apply(text: str, spans: list[Span]) -> str:
    """``text`` with each (non-overlapping, ordered) span replaced."""
    if not spans:
        return text
    pieces = []
    cursor = 0
    for span in spans:
        pieces.append(text[cursor : span.start])
        pieces.append(span.replacement)
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces)
