"""Secrets passed on command lines: ``--password x``, ``curl -u user:x``, ``-p``.

A long option named like a secret (``--token``, ``--api-key``) takes the next
word; a few well-known tools take a password as a short option. Case matters
for those (``mysql -P`` is the port), so they run on the text as it is.
"""

from __future__ import annotations

import re

from shared.redaction.keys import is_secret_key
from shared.redaction.rules import PatternRule, Span, starts_token
from shared.redaction.values import Value, harmless, value_at


def _cli_flag(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """``--password hunter2``: a flag named like a secret takes the next word."""
    if not starts_token(text, match.start()):
        return None
    key = text[match.start() : match.end("anchor_end")].lstrip("-")
    if not is_secret_key(key):
        return None
    value = value_at(text, match.end())
    if value is None or value.end <= value.start or harmless(text, value, placeholder):
        return None
    return Span(value.start, value.end, placeholder, True)


def _next_word(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """The word right after the match is the secret (``sshpass -p <pw>``, netrc)."""
    value = value_at(text, match.end())
    if value is None or value.end <= value.start or harmless(text, value, placeholder):
        return None
    return Span(value.start, value.end, placeholder, True)


def _user_and_password(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """``curl -u user:password``: the part after the colon goes, the user stays."""
    value = value_at(text, match.end())
    if value is None:
        return None
    colon = text.find(":", value.start, value.end)
    if colon == -1 or colon + 1 >= value.end:
        return None
    secret = Value(colon + 1, value.end, value.quoted)
    if harmless(text, secret, placeholder):
        return None
    return Span(secret.start, secret.end, placeholder, True)


COMMAND_LINE_RULES: tuple[PatternRule, ...] = (
    PatternRule(
        name="cli-secret-flag",
        pattern=re.compile(r"--[a-z0-9-]{0,48}?(?P<anchor_end>)(?<=[a-z0-9])[ \t]+(?=[^\s-])"),
        triggers=("--",),
        fold_case=True,
        judge=_cli_flag,
    ),
    PatternRule(
        name="curl-user-password",
        pattern=re.compile(r"(?:-u|--user|--proxy-user)[ \t]+"),
        triggers=("-u ", "--user", "--proxy-user"),
        bounded=True,
        judge=_user_and_password,
    ),
    PatternRule(
        name="sshpass-password",
        pattern=re.compile(r"sshpass[ \t]+-p[ \t]*"),
        triggers=("sshpass",),
        judge=_next_word,
    ),
    PatternRule(
        name="docker-login-password",
        pattern=re.compile(r"docker login\b[^\n]{0,200}?[ \t]-p[ \t]+"),
        triggers=("docker login",),
        judge=_next_word,
    ),
    PatternRule(
        name="redis-cli-password",
        pattern=re.compile(r"redis-cli\b[^\n]{0,200}?[ \t]-a[ \t]+"),
        triggers=("redis-cli",),
        judge=_next_word,
    ),
    PatternRule(
        name="mysql-password",
        pattern=re.compile(r"mysql(?:dump|admin)?\b[^\n]{0,200}?[ \t]-p(?=[^\s-])"),
        triggers=("mysql",),
        judge=_next_word,
    ),
    PatternRule(
        name="netrc-password",
        pattern=re.compile(r"machine[ \t]+\S+[ \t]+login[ \t]+\S+[ \t]+password[ \t]+"),
        triggers=("machine",),
        judge=_next_word,
    ),
)
