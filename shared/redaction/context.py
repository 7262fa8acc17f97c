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
from collections.abc import Iterator
from dataclasses import dataclass

from shared.redaction import placeholders as ph
from shared.redaction.entropy import candidate_runs, looks_random
from shared.redaction.keys import is_secret_key, normalize_key
from shared.redaction.rules import WORD_CHARS, PatternRule, Span, starts_token

_KEY_CHARS = WORD_CHARS | {"-", "."}

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
_DSN_PASSWORD_KEY = re.compile(r"(?:^|_)(?:password|passwd|pwd|pass)$")

# Values that say "no secret here": empty markers, already-masked values,
# references to where the secret lives, and file paths.
_HARMLESS_VALUE = re.compile(
    r"(?i:null|none|nil|true|false|undefined|n/a|redacted|masked|hidden|changeme)"
    r"|\*+|x{3,}|\.{3}|<[^<>]*>|\[REDACTED[A-Z_]*\]"
    r"|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\$?\{\{.*\}\}|%\([^)]*\)s"
    r"|(?:/|\./|~/)[A-Za-z0-9_./-]*"
)
_UNQUOTED_VALUE = re.compile(r"[^\s,;&\"'<>\])}\\]+")
_PROSE_WORD = re.compile(r"[a-z]+")
_QUOTED_BODY = {
    '"': re.compile(r'(?:[^"\\\n]|\\.)*'),
    "'": re.compile(r"(?:[^'\\\n]|\\.)*"),
}
_SEPARATOR = r"(?:\\?[\"'])?[ \t]*(?P<sep>:=|=>|[:=])[ \t]*"


@dataclass(frozen=True)
class _Value:
    start: int
    end: int
    quoted: bool


def _value_at(text: str, pos: int) -> _Value | None:
    """The value that starts at ``pos``: quoted (with escapes), or one bare token."""
    if pos >= len(text):
        return None
    if text.startswith('\\"', pos):
        end = text.find('\\"', pos + 2, _line_end(text, pos))
        if end == -1:
            end = _line_end(text, pos)
        return _Value(pos + 2, end, quoted=True)
    if text.startswith(("{{", "${{"), pos):
        closing = text.find("}}", pos, _line_end(text, pos))
        if closing != -1:
            return _Value(pos, closing + 2, quoted=False)  # a template reference
    body = _QUOTED_BODY.get(text[pos])
    if body is not None:
        inside = body.match(text, pos + 1, _line_end(text, pos))
        return _Value(pos + 1, inside.end() if inside else pos + 1, quoted=True)
    found = _UNQUOTED_VALUE.match(text, pos, _line_end(text, pos))
    return _Value(pos, found.end(), quoted=False) if found else None


# Every search from a match is bounded, so a text with thousands of matches
# on one huge line stays linear instead of rescanning the line per match.
_REACH = 1024
_DSN_REACH = 512  # a connection string's parts sit close to its password
_KEY_REACH = 256


def _line_end(text: str, pos: int) -> int:
    """End of the line at ``pos`` (or ``_REACH`` characters on, if sooner)."""
    limit = min(len(text), pos + _REACH)
    end = text.find("\n", pos, limit)
    return limit if end == -1 else end


def _line_start(text: str, pos: int) -> int:
    """Start of the line at ``pos`` (or ``_REACH`` characters back, if later)."""
    limit = max(0, pos - _REACH)
    start = text.rfind("\n", limit, pos)
    return limit if start == -1 else start + 1


def _key_before(text: str, end: int) -> tuple[int, str]:
    """The field name that ends at ``end`` (scanning back over name characters)."""
    start = end
    floor = max(0, end - _KEY_REACH)
    while start > floor and text[start - 1] in _KEY_CHARS:
        start -= 1
    return start, text[start:end]


def _is_prose(text: str, value: _Value, separator: str) -> bool:
    """``secret: permission denied`` is a sentence, not a secret."""
    if value.quoted or separator != ":":
        return False
    word = text[value.start : value.end]
    if not _PROSE_WORD.fullmatch(word):
        return False
    after = text[value.end : value.end + 2]
    return len(after) == 2 and after[0] == " " and after[1].islower()


def _harmless(text: str, value: _Value, placeholder: str) -> bool:
    """Nothing to hide, or already hidden (redacting twice changes nothing)."""
    raw = text[value.start : value.end].strip()
    return (
        not raw
        or raw.startswith("[REDACTED")
        or text.startswith(placeholder, value.start)
        or _HARMLESS_VALUE.fullmatch(raw) is not None
    )


def _placeholder_for(key: str, text: str, position: int, generic: str) -> str:
    normalized = normalize_key(key)
    if "aws" in normalized and ("secret" in normalized or "access_key" in normalized):
        return ph.AWS_KEY
    if _DSN_PASSWORD_KEY.search(normalized):
        start = max(_line_start(text, position), position - _DSN_REACH)
        end = min(_line_end(text, position), position + _DSN_REACH)
        line = text[start:end].lower()
        if _DSN_CONTEXT.search(line):
            return ph.DB_DSN
    return generic


def _key_value(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """``password=...``, ``"token": "..."``, ``X-Api-Key: ...``: redact the value."""
    key_start, key = _key_before(text, match.start("anchor_end"))
    if not is_secret_key(key.lstrip("-.")):
        return None
    value = _value_at(text, match.end())
    if value is None or value.end <= value.start:
        return None
    if _harmless(text, value, placeholder) or _is_prose(text, value, match.group("sep")):
        return None
    if key.lower() in {"pwd", "oldpwd"} and text.startswith("/", value.start):
        return None
    return Span(value.start, value.end, _placeholder_for(key, text, key_start, placeholder), True)


def _cli_flag(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """``--password hunter2``: a flag named like a secret takes the next word."""
    if not starts_token(text, match.start()):
        return None
    key = text[match.start() : match.end("anchor_end")].lstrip("-")
    if not is_secret_key(key):
        return None
    value = _value_at(text, match.end())
    if value is None or value.end <= value.start or _harmless(text, value, placeholder):
        return None
    return Span(value.start, value.end, placeholder, True)


def _next_word(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """The word right after the match is the secret (``sshpass -p <pw>``, netrc)."""
    value = _value_at(text, match.end())
    if value is None or value.end <= value.start or _harmless(text, value, placeholder):
        return None
    return Span(value.start, value.end, placeholder, True)


def _user_and_password(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """``curl -u user:password``: the part after the colon goes, the user stays."""
    value = _value_at(text, match.end())
    if value is None:
        return None
    colon = text.find(":", value.start, value.end)
    if colon == -1 or colon + 1 >= value.end:
        return None
    secret = _Value(colon + 1, value.end, value.quoted)
    if _harmless(text, secret, placeholder):
        return None
    return Span(secret.start, secret.end, placeholder, True)


# Command lines that take a password as a short option. Case matters
# (``mysql -P`` is the port), so these run on the text as it is.
_COMMAND_LINE_RULES = (
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
        pattern=re.compile(rf"{anchor}{suffix}(?P<anchor_end>){_SEPARATOR}"),
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
        line_end = _line_end(text, pos)
        end = text.find(closing, pos, line_end)
        end = line_end if end == -1 else end
        if end > pos and text[end - 1] == "\\":
            end -= 1  # the closing quote was escaped: \"Bearer abc\"
        value = _Value(pos, end, quoted=True)
    elif name in _AUTH_PARAM_SCHEMES:
        value = _rest_of_value(text, pos)
    else:
        found = _value_at(text, pos)
        if found is None:
            return None
        value = found
    if value.end <= value.start or _harmless(text, value, placeholder):
        return None
    if not name and _is_prose(text, value, match.group("sep")):
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


def _rest_of_value(text: str, pos: int) -> _Value:
    """A value that may hold spaces (cookie lists, Digest parameters): to the line's end.

    A bare double quote ends it too, so a header quoted inside a JSON string
    leaves the string closed; quotes that open a parameter (``response="..."``)
    do not.
    """
    end = pos
    limit = _line_end(text, pos)
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
    return _Value(pos, end, quoted=False)


def _cookie(match: re.Match[str], text: str, placeholder: str) -> Span | None:
    """``Cookie:`` / ``Set-Cookie:`` headers: every cookie in them is a session."""
    _, key = _key_before(text, match.start("anchor_end"))
    if not is_secret_key(key):
        return None
    pos = match.end()
    if text.startswith(('"', "'", '\\"'), pos):
        value = _value_at(text, pos)
    else:
        value = _rest_of_value(text, pos)
    if value is None or value.end <= value.start or _harmless(text, value, placeholder):
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


# Path-like segments: lowercase words, dates and numbers, or the empty
# segment of "//"; random base64 almost never has two of them.
_PATH_WORD = re.compile(r"[a-z]{2,}|[0-9][0-9-]*|")
_SSH_PUBLIC_KEY_BLOBS = ("AAAAB3NzaC1", "AAAAC3NzaC1", "AAAAE2VjZHNh")


@dataclass(frozen=True)
class HighEntropyRule:
    """Runs of 32+ token characters that look random (see ``entropy``)."""

    name: str = "high-entropy-string"

    def find(self, text: str, lowered: str, placeholder: str) -> Iterator[Span]:
        for start, end in candidate_runs(text):
            run = text[start:end]
            if run.startswith(_SSH_PUBLIC_KEY_BLOBS):
                continue  # public keys are meant to be shown
            segments = run.split("/")
            if sum(1 for s in segments if _PATH_WORD.fullmatch(s)) < 2:
                if looks_random(run):
                    yield Span(start, end, placeholder, True)
                continue
            # a path or URL: only a random segment in it is a secret (/objects/<key>/meta)
            offset = start
            for segment in segments:
                if len(segment) >= 32 and looks_random(segment):
                    yield Span(offset, offset + len(segment), placeholder)
                offset += len(segment) + 1


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
        pattern=re.compile(rf"authorization(?P<anchor_end>){_SEPARATOR}(?:\\?[\"'])?"),
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
        pattern=re.compile(rf"cookie(?P<anchor_end>){_SEPARATOR}"),
        triggers=("cookie",),
        fold_case=True,
        judge=_cookie,
    ),
    *(_key_value_rule(anchor) for anchor in _KEY_ANCHORS),
    PatternRule(
        name="cli-secret-flag",
        pattern=re.compile(r"--[a-z0-9-]{0,48}?(?P<anchor_end>)(?<=[a-z0-9])[ \t]+(?=[^\s-])"),
        triggers=("--",),
        fold_case=True,
        judge=_cli_flag,
    ),
    *_COMMAND_LINE_RULES,
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
