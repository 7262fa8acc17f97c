"""Secrets recognisable by their context rather than their shape.

``password=...``, ``"api_key": "..."``, ``Authorization: Bearer ...``,
``Cookie: ...``, ``--token ...``, credentials in URLs (``scheme://user:pass@``)
and e-mail addresses. The name of a field decides (see ``keys``), the value
is redacted whatever it looks like, and the scheme, field name and host stay
so the line still reads.

Decision on DSNs: in URL form the scheme, host, port, database and query
stay and ``user:password`` goes, ``postgres://[REDACTED_DB_DSN]@db:5432/app``
(the user name is dropped too: with the host it identifies an account); in
key=value form (libpq, ADO.NET, JDBC query) only the password value goes:
``host=db user=app password=[REDACTED_DB_DSN]``.
"""

from __future__ import annotations

import re

from shared.redaction import placeholders as ph
from shared.redaction.commands import COMMAND_LINE_RULES
from shared.redaction.entropy import HighEntropyRule
from shared.redaction.keys import is_secret_key, normalize_key
from shared.redaction.rules import WORD_CHARS, PatternRule, Span, starts_token
from shared.redaction.values import (
    SEPARATOR,
    Value,
    harmless,
    is_prose,
    key_before,
    line_end,
    line_start,
    rest_of_value,
    value_at,
)

_DB_SCHEMES = frozenset(
    [
        "postgres",
        "postgresql",
        "mysql",
        "mariadb",
        "mongodb",
        "mongodb+srv",
        "redis",
        "rediss",
        "sqlserver",
        "mssql",
        "oracle",
        "cockroachdb",
        "clickhouse",
        "cassandra",
        "couchdb",
        "neo4j",
        "neo4j+s",
        "bolt",
        "amqp",
        "amqps",
        "memcached",
        "snowflake",
        "db2",
        "sqlite",
        "timescale",
        "influxdb",
    ]
)
_DSN_CONTEXT = re.compile(
    r"\b(?:dbname|sslmode|user id|uid|initial catalog|data source|database|server|host)"
    r"\s*=|jdbc:|\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|sqlserver"
    r"|mssql|oracle|cockroachdb|clickhouse)://"
)
_DSN_REACH = 512  # a connection string's parts sit close to its password
_DSN_PASSWORD_KEY = re.compile(r"(?:^|_)(?:password|passwd|pwd|pass)$")


def _placeholder_for(key: str, text: str, position: int, generic: str) -> str:
    normalized = normalize_key(key)
    if "aws" in normalized and ("secret" in normalized or "access_key" in normalized):
        return ph.AWS_KEY
    if _DSN_PASSWORD_KEY.search(normalized):
        start = max(line_start(text, position), position - _DSN_REACH)
        end = min(line_end(text, position), position + _DSN_REACH)
        line = text[start:end].lower()
        if _DSN_CONTEXT.search(line):
            return ph.DB_DSN
    return generic


def _key_value(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """``password=...``, ``"token": "..."``, ``X-Api-Key: ...``: redact the value."""
    key_start, key = key_before(text, match.start("anchor_end"))
    if not is_secret_key(key.lstrip("-.")):
        return None
    value = value_at(text, match.end())
    if value is None or value.end <= value.start:
        return None
    if harmless(text, value, placeholder) or is_prose(text, value, match.group("sep")):
        return None
    if key.lower() in {"pwd", "oldpwd"} and text.startswith("/", value.start):
        return None
    return Span(value.start, value.end, _placeholder_for(key, text, key_start, placeholder), True)


# The last word of a secret field name; the judge reads the whole name back.
_KEY_ANCHORS = (
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "pwd",
    "pass",
    "secret",
    "secrets",
    "token",
    "key",
    "credential",
    "credentials",
    "signature",
    "sig",
    "auth",
)


def _key_value_rule(anchor: str) -> PatternRule:
    suffix = r"(?:[_-]?v?\d{1,3})?" if anchor in {"signature", "sig", "key"} else ""
    return PatternRule(
        name=f"key-value-{anchor}",
        pattern=re.compile(rf"{anchor}{suffix}(?P<anchor_end>){SEPARATOR}"),
        triggers=(anchor,),
        fold_case=True,
        judge=_key_value,
    )


_AUTH_SINGLE_TOKEN_SCHEMES = frozenset(
    [
        "bearer",
        "basic",
        "token",
        "apikey",
        "api-key",
        "key",
        "sso-key",
        "ssws",
        "otp",
        "dpop",
        "gnap",
        "privatetoken",
        "vapid",
    ]
)
_AUTH_PARAM_SCHEMES = frozenset(
    [
        "digest",
        "negotiate",
        "ntlm",
        "hoba",
        "mutual",
        "aws4-hmac-sha256",
        "goog4-hmac-sha256",
        "scram-sha-256",
        "scram-sha-1",
        "sharedkey",
        "sharedkeylite",
        "hmac",
        "signature",
        "oauth",
    ]
)
_AUTH_SCHEME = re.compile(r"([A-Za-z0-9-]+)[ \t]+")


def _authorization(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """``Authorization: <scheme> <credentials>``: keep the scheme, drop the rest."""
    if not starts_token(text, match.start(), WORD_CHARS):
        return None
    pos = match.end()
    quoted = text[match.end() - 1 : match.end()] in {'"', "'"}
    scheme = _AUTH_SCHEME.match(text, pos)
    name = scheme.group(1).lower() if scheme else ""
    if name in _AUTH_SINGLE_TOKEN_SCHEMES or name in _AUTH_PARAM_SCHEMES:
        pos = scheme.end() if scheme else pos
    else:
        name = ""
    if quoted:
        closing = text[match.end() - 1]
        stop = line_end(text, pos)
        end = text.find(closing, pos, stop)
        end = stop if end == -1 else end
        if end > pos and text[end - 1] == "\\":
            end -= 1  # the closing quote was escaped: \"Bearer abc\"
        value = Value(pos, end, quoted=True)
    elif name in _AUTH_PARAM_SCHEMES:
        value = rest_of_value(text, pos)
    else:
        found = value_at(text, pos)
        if found is None:
            return None
        value = found
    if value.end <= value.start or harmless(text, value, placeholder):
        return None
    if not name and is_prose(text, value, match.group("sep")):
        return None
    return Span(value.start, value.end, placeholder, True)


_BEARER_PROSE = frozenset(
    [
        "authentication",
        "authorization",
        "credential",
        "credentials",
        "required",
        "missing",
        "invalid",
        "expired",
        "scheme",
        "header",
        "token",
        "tokens",
    ]
)
_CREDENTIAL_BODY = re.compile(r"[A-Za-z0-9._~+/=-]{8,}")


def _scheme_credential(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """``Bearer abc...`` / ``Basic dXNl...`` anywhere: keep the scheme word."""
    if not starts_token(text, match.start(), WORD_CHARS):
        return None
    body = _CREDENTIAL_BODY.match(text, match.end())
    if body is None:
        return None
    credential = body.group()
    if credential.startswith("[REDACTED") or text.startswith(placeholder, body.start()):
        return None
    # "Basic authentication" is English; a credential has a digit, a capital
    # after its first letter, or base64/JWT punctuation. Opaque bearer tokens
    # may be plain lowercase, so for Bearer only known words are spared.
    shaped = (
        any(c.isdigit() for c in credential)
        or any(c.isupper() for c in credential[1:])
        or any(c in "+/=._~" for c in credential)
    )
    scheme = match.group().split()[0]
    if not shaped and (scheme != "bearer" or credential.lower() in _BEARER_PROSE):
        return None
    return Span(body.start(), body.end(), placeholder, True)


def _cookie(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """``Cookie:`` / ``Set-Cookie:`` headers: every cookie in them is a session."""
    _, key = key_before(text, match.start("anchor_end"))
    if not is_secret_key(key):
        return None
    pos = match.end()
    if text.startswith(('"', "'", '\\"'), pos):
        value = value_at(text, pos)
    else:
        value = rest_of_value(text, pos)
    if value is None or value.end <= value.start or harmless(text, value, placeholder):
        return None
    return Span(value.start, value.end, placeholder, True)


def _url_credentials(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """``scheme://user:password@host``: drop ``user:password``, keep the rest."""
    secret_start, secret_end = match.span("secret")
    _user, _, password = text[secret_start:secret_end].partition(":")
    if not password:
        return None
    scheme_start = match.start()
    while scheme_start > 0 and (
        text[scheme_start - 1].isalnum() or text[scheme_start - 1] in "+.-"
    ):
        scheme_start -= 1
    scheme = text[scheme_start : match.start()].lower()
    if scheme.startswith("jdbc:"):
        scheme = scheme[5:]
    replacement = ph.DB_DSN if scheme in _DB_SCHEMES else ph.CREDENTIALS
    return Span(secret_start, secret_end, replacement)


_FILE_EXTENSIONS = frozenset(
    [
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "webp",
        "ico",
        "js",
        "mjs",
        "ts",
        "py",
        "json",
        "yaml",
        "yml",
        "txt",
        "log",
        "css",
        "html",
        "lock",
        "toml",
        "cfg",
        "ini",
        "sh",
        "md",
        "rst",
        "csv",
        "xml",
        "tar",
        "gz",
        "zip",
        "whl",
    ]
)
_EMAIL_LOCAL_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-"
)


def _email(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """An address: scan back from ``@`` for the local part the pattern cannot anchor."""
    start = match.start()
    while start > 0 and match.start() - start < 64 and text[start - 1] in _EMAIL_LOCAL_CHARS:
        start -= 1
    while start < match.start() and text[start] in ".-":
        start += 1
    local = text[start : match.start()]
    if not local or local == "git":
        return None
    tld = text[match.start() : match.end()].rsplit(".", 1)[-1].lower()
    if tld in _FILE_EXTENSIONS:
        return None
    return Span(start, match.end(), placeholder)


CONTEXT_RULES: tuple[PatternRule | HighEntropyRule, ...] = (
    PatternRule(
        name="url-credentials",
        pattern=re.compile(
            r"://(?P<secret>[^\s:/?#@\"'<>\[\]]*:[^\s/?#\"'<>]*)@(?=[^\s@/?#\"'<>])"
        ),
        triggers=("://",),
        judge=_url_credentials,
    ),
    PatternRule(
        name="url-token-user",
        pattern=re.compile(r"://(?P<secret>[A-Za-z0-9_~%-]{24,})@(?=[^\s@/?#\"'<>])"),
        placeholder=ph.CREDENTIALS,
        triggers=("://",),
    ),
    PatternRule(
        name="authorization-header",
        pattern=re.compile(rf"authorization(?P<anchor_end>){SEPARATOR}(?:\\?[\"'])?"),
        triggers=("authorization",),
        fold_case=True,
        judge=_authorization,
    ),
    PatternRule(
        name="bearer-credential",
        pattern=re.compile(r"bearer[ \t]+"),
        triggers=("bearer",),
        fold_case=True,
        judge=_scheme_credential,
    ),
    PatternRule(
        name="basic-credential",
        pattern=re.compile(r"basic[ \t]+"),
        triggers=("basic",),
        fold_case=True,
        judge=_scheme_credential,
    ),
    PatternRule(
        name="cookie-header",
        pattern=re.compile(rf"cookie(?P<anchor_end>){SEPARATOR}"),
        triggers=("cookie",),
        fold_case=True,
        judge=_cookie,
    ),
    *(_key_value_rule(anchor) for anchor in _KEY_ANCHORS),
    *COMMAND_LINE_RULES,
    PatternRule(
        name="email",
        pattern=re.compile(
            r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])"
        ),
        placeholder=ph.EMAIL,
        triggers=("@",),
        judge=_email,
    ),
    HighEntropyRule(),
)
