"""The redactor: built-in rules, custom patterns and a placeholder, applied once.

Rules run in priority order and report spans of the original text; where
spans overlap the earlier rule wins (custom patterns first, then shaped
tokens with typed placeholders, then context such as ``password=``, then
e-mails and random-looking strings), and the text is rewritten in one pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.redaction import placeholders as ph
from shared.redaction.context import CONTEXT_RULES
from shared.redaction.keys import is_secret_key
from shared.redaction.rules import PatternRule, Rule, Span, apply, resolve
from shared.redaction.tokens import TOKEN_RULES
from shared.settings import Environ, SettingsError

PATTERNS_ENV = "OPSPLANE_REDACTION_PATTERNS"
PLACEHOLDER_ENV = "OPSPLANE_REDACTION_PLACEHOLDER"

BUILTIN_RULES: tuple[Rule, ...] = (*TOKEN_RULES, *CONTEXT_RULES)


class RedactionConfigError(ValueError):
    """A custom pattern or placeholder is unusable."""


def compile_custom_patterns(patterns: Iterable[str]) -> tuple[PatternRule, ...]:
    """Rules for user patterns; a named group ``secret`` limits what is replaced.

    Raises RedactionConfigError naming the pattern when one does not compile
    or matches the empty string (it would redact between every character).
    """
    rules = []
    for index, source in enumerate(patterns):
        if not isinstance(source, str) or not source:
            raise RedactionConfigError(f"pattern {index} must be a non-empty string")
        try:
            compiled = re.compile(source)
        except re.error as exc:
            raise RedactionConfigError(f"pattern {source!r} does not compile: {exc}") from None
        if compiled.fullmatch(""):
            raise RedactionConfigError(f"pattern {source!r} matches the empty string")
        rules.append(PatternRule(name=f"custom-{index}", pattern=compiled))
    return tuple(rules)


class Redactor:
    """Removes secrets from text and structured data.

    ``patterns`` are extra regular expressions (from configuration) whose
    matches are replaced by ``placeholder``; the placeholder also replaces
    values of secret-named fields, generic ``key=value`` secrets and
    random-looking strings. Typed placeholders (``[REDACTED_GH_TOKEN]``...)
    are fixed so a reader always knows what kind of secret was there.
    """

    def __init__(self, patterns: Iterable[str] = (), placeholder: str = ph.REDACTED) -> None:
        if not isinstance(placeholder, str) or not placeholder:
            raise RedactionConfigError("placeholder must be a non-empty string")
        self.placeholder = placeholder
        self.custom_rules = compile_custom_patterns(patterns)
        self.rules: tuple[Rule, ...] = (*self.custom_rules, *BUILTIN_RULES)
        self._gate = _TriggerGate(self.rules)

    @classmethod
    def from_env(cls, env: Environ) -> Redactor:
        """Built from ``OPSPLANE_REDACTION_PATTERNS`` (a JSON list) and ``..._PLACEHOLDER``.

        Raises SettingsError naming the variable when either is malformed.
        """
        raw = env.get(PATTERNS_ENV, "").strip()
        patterns: Sequence[str] = ()
        if raw:
            try:
                decoded = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SettingsError(
                    PATTERNS_ENV, f"must be a JSON list of regexes: {exc}"
                ) from None
            if not isinstance(decoded, list):
                raise SettingsError(PATTERNS_ENV, "must be a JSON list of regexes")
            patterns = decoded
        placeholder = env.get(PLACEHOLDER_ENV, "").strip() or ph.REDACTED
        try:
            return cls(patterns, placeholder)
        except RedactionConfigError as exc:
            raise SettingsError(PATTERNS_ENV, str(exc)) from None

    def spans(self, text: str) -> list[Span]:
        """The non-overlapping spans of ``text`` that would be replaced."""
        # Lowercasing some characters (e.g. "İ") changes the length; the ASCII
        # route keeps one character per character so spans stay aligned.
        lowered = text.lower() if text.isascii() else _ascii_lower(text)
        found: list[tuple[int, Span]] = []
        placeholder = self.placeholder
        rules = self.rules
        for priority in self._gate.candidates(text, lowered):
            for span in rules[priority].find(text, lowered, placeholder):
                if span.end > span.start:
                    found.append((priority, span))
        return resolve(found) if found else []

    def redact_text(self, text: str) -> str:
        """``text`` with every secret replaced by its placeholder."""
        if not text:
            return text
        return apply(text, self.spans(text))

    def redact_data(self, value: Any) -> Any:
        """A copy of ``value`` with secrets removed from every string inside it.

        Dicts, lists, tuples and sets are walked; a value under a secret-named
        key (``password``, ``apiKey``, ``Authorization``...) is replaced
        whatever it is, except None and "" which hold nothing. Other objects
        are returned as they are.
        """
        return self._walk(value, set())

    def _walk(self, value: Any, active: set[int]) -> Any:
        if isinstance(value, str):
            return self.redact_text(value)
        if not isinstance(value, Mapping | list | tuple | set | frozenset):
            return value
        marker = id(value)
        if marker in active:
            return self.placeholder  # a cycle: json.dumps would refuse it anyway
        active.add(marker)
        try:
            if isinstance(value, Mapping):
                return {
                    (self.redact_text(k) if isinstance(k, str) else k): (
                        self.placeholder
                        if isinstance(k, str) and is_secret_key(k) and not _empty(v)
                        else self._walk(v, active)
                    )
                    for k, v in value.items()
                }
            items = [self._walk(item, active) for item in value]
            if isinstance(value, list):
                return items
            if isinstance(value, tuple):
                return tuple(items)
            return type(value)(items)
        finally:
            active.discard(marker)


class _TriggerGate:
    """Which rules can match a text, found in one pass over it.

    Most log lines trigger none of the hundred-odd rules. Testing each
    rule's trigger literals one by one costs more than running the few rules
    that matter, so all triggers go into two Aho-Corasick automata (one for
    case-sensitive triggers on the text, one for folded triggers on the
    lowercased text) that report every trigger present in a single C pass.
    Rules without triggers (custom patterns, random strings) always run.
    """

    # Past this length every trigger tends to occur somewhere, and substring
    # tests (C speed, once per trigger) beat iterating over every hit.
    LONG_TEXT = 4096

    def __init__(self, rules: Sequence[Rule]) -> None:
        import ahocorasick

        self._rules = tuple(rules)
        self._always: list[int] = []
        exact = ahocorasick.Automaton()
        folded = ahocorasick.Automaton()
        for priority, rule in enumerate(rules):
            triggers = rule.triggers if isinstance(rule, PatternRule) else ()
            if not triggers:
                self._always.append(priority)
                continue
            automaton = folded if isinstance(rule, PatternRule) and rule.fold_case else exact
            for trigger in triggers:
                owners = automaton.get(trigger, ())
                automaton.add_word(trigger, (*owners, priority))
        self._exact = exact if len(exact) else None
        self._folded = folded if len(folded) else None
        for automaton in (self._exact, self._folded):
            if automaton is not None:
                automaton.make_automaton()

    def candidates(self, text: str, lowered: str) -> list[int]:
        """Priorities of the rules worth running on ``text``, in order."""
        if len(text) > self.LONG_TEXT:
            return [
                priority
                for priority, rule in enumerate(self._rules)
                if not isinstance(rule, PatternRule)
                or not rule.triggers
                or any(t in (lowered if rule.fold_case else text) for t in rule.triggers)
            ]
        hits = set(self._always)
        if self._exact is not None:
            for _, owners in self._exact.iter(text):
                hits.update(owners)
        if self._folded is not None:
            for _, owners in self._folded.iter(lowered):
                hits.update(owners)
        return sorted(hits)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value)


def _ascii_lower(text: str) -> str:
    return text.encode("ascii", "replace").lower().decode("ascii")
