"""Table-driven redaction corpus: realistic fake secrets vanish, ordinary ops text does not change.

The fake secrets are generated from a fixed seed in the formats public secret
scanners (gitleaks, trufflehog, detect-secrets) describe, so no real-looking
credential is committed and every run sees the same values.
"""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

import pytest

from shared.redaction import placeholders as ph
from shared.redaction import redact_data, redact_text

_rng = random.Random(20260627)
ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"
UPPER_DIGITS = string.ascii_uppercase + string.digits


def _pick(alphabet: str, length: int) -> str:
    """Random text that mixes letters and digits (as real keys almost always do)."""
    mixed = any(c.isdigit() for c in alphabet) and any(c.isalpha() for c in alphabet)
    while True:
        value = "".join(_rng.choice(alphabet) for _ in range(length))
        if (
            not mixed
            or length < 8
            or (any(c.isdigit() for c in value) and any(c.isalpha() for c in value))
        ):
            return value


def _b64url_json(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _jwt() -> str:
    header = _b64url_json({"alg": "RS256", "typ": "JWT", "kid": _pick(HEX, 16)})
    payload = _b64url_json({"sub": "1234567890", "iss": "https://accounts.google.com", "exp": 1})
    return f"{header}.{payload}.{_pick(B64URL, 86)}"


def _pem(kind: str, newline: str = "\n") -> str:
    body = newline.join(_pick(ALNUM + "+/", 64) for _ in range(6))
    return f"-----BEGIN {kind}-----{newline}{body}{newline}-----END {kind}-----"


def _password(length: int = 16) -> str:
    return _pick(ALNUM + "!#%^*-_.~", length)


# (id, secret, the typed placeholder that must replace it)
SHAPED = [
    ("github-classic", "ghp_" + _pick(ALNUM, 36), ph.GH_TOKEN),
    ("github-oauth", "gho_" + _pick(ALNUM, 36), ph.GH_TOKEN),
    ("github-user-to-server", "ghu_" + _pick(ALNUM, 36), ph.GH_TOKEN),
    ("github-server-to-server", "ghs_" + _pick(ALNUM, 36), ph.GH_TOKEN),
    ("github-refresh", "ghr_" + _pick(ALNUM, 76), ph.GH_TOKEN),
    ("github-fine-grained", f"github_pat_{_pick(ALNUM, 22)}_{_pick(ALNUM, 59)}", ph.GH_TOKEN),
    ("openai-legacy", f"sk-{_pick(ALNUM, 20)}T3BlbkFJ{_pick(ALNUM, 20)}", ph.API_KEY),
    ("openai-project", "sk-proj-" + _pick(B64URL, 156), ph.API_KEY),
    ("openai-service-account", "sk-svcacct-" + _pick(B64URL, 74), ph.API_KEY),
    ("anthropic", f"sk-ant-api03-{_pick(B64URL, 93)}AA", ph.API_KEY),
    (
        "slack-bot",
        f"xoxb-{_pick(string.digits, 12)}-{_pick(string.digits, 13)}-{_pick(ALNUM, 24)}",
        ph.SLACK_TOKEN,
    ),
    (
        "slack-user",
        f"xoxp-{_pick(string.digits, 12)}-{_pick(string.digits, 12)}-"
        f"{_pick(string.digits, 13)}-{_pick(HEX, 32)}",
        ph.SLACK_TOKEN,
    ),
    ("slack-app-level", f"xoxa-2-{_pick(string.digits, 12)}-{_pick(ALNUM, 32)}", ph.SLACK_TOKEN),
    ("slack-refresh", f"xoxr-{_pick(string.digits, 12)}-{_pick(ALNUM, 40)}", ph.SLACK_TOKEN),
    (
        "slack-xapp",
        f"xapp-1-A{_pick(UPPER_DIGITS, 10)}-{_pick(string.digits, 13)}-{_pick(HEX, 64)}",
        ph.SLACK_TOKEN,
    ),
    (
        "slack-webhook",
        f"https://hooks.slack.com/services/T{_pick(UPPER_DIGITS, 8)}/"
        f"B{_pick(UPPER_DIGITS, 10)}/{_pick(ALNUM, 24)}",
        ph.SLACK_WEBHOOK,
    ),
    (
        "discord-webhook",
        f"https://discord.com/api/webhooks/{_pick(string.digits, 18)}/{_pick(B64URL, 68)}",
        ph.WEBHOOK,
    ),
    ("aws-access-key-id", "AKIA" + _pick(UPPER_DIGITS, 16), ph.AWS_KEY),
    ("aws-temporary-key-id", "ASIA" + _pick(UPPER_DIGITS, 16), ph.AWS_KEY),
    ("google-api-key", "AIza" + _pick(B64URL, 35), ph.API_KEY),
    ("google-oauth-client-secret", "GOCSPX-" + _pick(B64URL, 28), ph.API_KEY),
    ("google-oauth-access-token", "ya29." + _pick(B64URL, 120), ph.API_KEY),
    ("google-oauth-refresh-token", "1//0" + _pick(B64URL, 99), ph.API_KEY),
    ("jwt", _jwt(), ph.JWT),
    ("stripe-live-secret", "sk_live_" + _pick(ALNUM, 99), ph.API_KEY),
    ("stripe-test-secret", "sk_test_" + _pick(ALNUM, 24), ph.API_KEY),
    ("stripe-restricted", "rk_live_" + _pick(ALNUM, 24), ph.API_KEY),
    ("stripe-webhook-secret", "whsec_" + _pick(ALNUM, 32), ph.API_KEY),
    ("npm", "npm_" + _pick(ALNUM, 36), ph.API_KEY),
    ("pypi", "pypi-AgEIcHlwaS5vcmc" + _pick(B64URL, 70), ph.API_KEY),
    ("gitlab-pat", "glpat-" + _pick(B64URL, 20), ph.API_KEY),
    ("gitlab-deploy", "gldt-" + _pick(B64URL, 20), ph.API_KEY),
    ("sendgrid", f"SG.{_pick(B64URL, 22)}.{_pick(B64URL, 43)}", ph.API_KEY),
    ("twilio-api-key", "SK" + _pick(HEX, 32), ph.API_KEY),
    ("mailgun", "key-" + _pick(ALNUM, 32), ph.API_KEY),
    ("mailchimp", _pick(HEX, 32) + "-us12", ph.API_KEY),
    ("huggingface", "hf_" + _pick(string.ascii_letters, 34), ph.API_KEY),
    ("docker-hub", "dckr_pat_" + _pick(B64URL, 27), ph.API_KEY),
    ("digitalocean", "dop_v1_" + _pick(HEX, 64), ph.API_KEY),
    ("vault", "hvs." + _pick(B64URL, 90), ph.API_KEY),
    ("databricks", "dapi" + _pick(HEX, 32), ph.API_KEY),
    ("shopify", "shpat_" + _pick(HEX, 32), ph.API_KEY),
    ("age", "AGE-SECRET-KEY-1" + _pick("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58), ph.API_KEY),
    ("azure-ad-client-secret", f"{_pick(ALNUM, 3)}8Q~{_pick(ALNUM + '_~.-', 34)}", ph.API_KEY),
    ("telegram-bot", f"{_pick(string.digits, 10)}:AA{_pick(B64URL, 33)}", ph.API_KEY),
    ("new-relic", "NRAK-" + _pick(UPPER_DIGITS, 27), ph.API_KEY),
    ("grafana-service-account", f"glsa_{_pick(ALNUM, 32)}_{_pick(HEX, 8)}", ph.API_KEY),
    ("postman", f"PMAK-{_pick(HEX, 24)}-{_pick(HEX, 34)}", ph.API_KEY),
    ("linear", "lin_api_" + _pick(ALNUM, 40), ph.API_KEY),
    ("groq", "gsk_" + _pick(ALNUM, 52), ph.API_KEY),
    ("doppler", "dp.pt." + _pick(ALNUM, 43), ph.API_KEY),
    ("private-key-rsa", _pem("RSA PRIVATE KEY"), ph.PRIVATE_KEY),
    ("private-key-pkcs8-json-escaped", _pem("PRIVATE KEY", newline="\\n"), ph.PRIVATE_KEY),
    ("private-key-openssh", _pem("OPENSSH PRIVATE KEY"), ph.PRIVATE_KEY),
    ("private-key-ec", _pem("EC PRIVATE KEY"), ph.PRIVATE_KEY),
    ("random-alnum-40", _pick(ALNUM, 40), ph.REDACTED),
    ("random-base64-40", _pick(ALNUM + "+/", 40), ph.REDACTED),
    ("random-base64url-43", _pick(B64URL, 43), ph.REDACTED),
]

# How a shaped secret reaches a log: each must be caught in every one of these.
WRAPPERS = [
    pytest.param("2026-06-27T00:30:00Z ERROR upstream rejected {s} (attempt 2)", id="log"),
    pytest.param('{{"event": "deploy", "value": "{s}", "ok": true}}', id="json"),
    pytest.param("GET /callback?code=ok&value={s}&state=xyz HTTP/1.1", id="query"),
    pytest.param("X-Debug: {s}", id="header"),
    pytest.param("params={{'value': '{s}', 'n': 1}}", id="repr"),
    pytest.param("EXPORTED_VALUE={s}", id="env"),
]


def _assert_gone(secret: str, output: str) -> None:
    assert secret not in output
    # no 12-character piece of it survives either (a partial redaction leaks)
    pieces = [secret[i : i + 12] for i in range(0, max(len(secret) - 12, 0) + 1, 6)]
    leaked = [piece for piece in pieces if "\n" not in piece and piece in output]
    assert not leaked, f"pieces survived: {leaked}"


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize(
    ("secret", "placeholder"), [pytest.param(s, p, id=i) for i, s, p in SHAPED]
)
def test_a_shaped_secret_is_replaced_by_its_typed_placeholder(
    secret: str, placeholder: str, wrapper: str
) -> None:
    """Every shaped secret vanishes from every kind of line, leaving its typed placeholder."""
    line = wrapper.format(s=secret)
    output = redact_text(line)
    _assert_gone(secret, output)
    assert placeholder in output
    # the wrapper around the secret survives
    head, _, tail = wrapper.partition("{s}")
    assert output.startswith(head.replace("{{", "{")[:10])
    assert output.endswith(tail.replace("}}", "}")[-4:])


PASSWORD = _password()
URL_PASSWORD = _pick(ALNUM + "-_.~", 20)
OPAQUE = _pick(string.ascii_lowercase, 28)
HEX_KEY = _pick(HEX, 40)
AWS_SECRET = _pick(ALNUM + "+/", 40)
BASIC = base64.b64encode(f"deploy:{PASSWORD}".encode()).decode()
SESSION = _pick(B64URL, 32)
GHS = "ghs_" + _pick(ALNUM, 36)

# (id, line, the secret that must vanish, the placeholder that must appear)
CONTEXTUAL = [
    ("aws-secret-key-value", f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET, ph.AWS_KEY),
    ("aws-secret-env", f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET, ph.AWS_KEY),
    (
        "dsn-postgres-url",
        f"postgres://app:{URL_PASSWORD}@db.internal:5432/app?sslmode=require",
        URL_PASSWORD,
        ph.DB_DSN,
    ),
    (
        "dsn-postgresql-url",
        f"DATABASE_URL=postgresql://app:{URL_PASSWORD}@10.0.0.5/app",
        URL_PASSWORD,
        ph.DB_DSN,
    ),
    (
        "dsn-mysql-url",
        f"mysql://root:{URL_PASSWORD}@mysql.internal:3306/shop",
        URL_PASSWORD,
        ph.DB_DSN,
    ),
    (
        "dsn-mongodb-srv",
        f"mongodb+srv://svc:{URL_PASSWORD}@cluster0.ab1cd.mongodb.net/prod",
        URL_PASSWORD,
        ph.DB_DSN,
    ),
    (
        "dsn-redis-no-user",
        f"redis://:{URL_PASSWORD}@cache.internal:6379/0",
        URL_PASSWORD,
        ph.DB_DSN,
    ),
    ("dsn-amqp", f"amqp://guest:{URL_PASSWORD}@rabbit.internal:5672/", URL_PASSWORD, ph.DB_DSN),
    (
        "dsn-libpq-keywords",
        f"host=db.internal port=5432 dbname=app user=app password={PASSWORD} sslmode=require",
        PASSWORD,
        ph.DB_DSN,
    ),
    (
        "dsn-ado-net",
        f"Server=tcp:sql.example.net,1433;Database=app;User Id=app;Password={PASSWORD};",
        PASSWORD,
        ph.DB_DSN,
    ),
    (
        "dsn-jdbc-query",
        f"jdbc:postgresql://db:5432/app?user=app&password={PASSWORD}",
        PASSWORD,
        ph.DB_DSN,
    ),
    (
        "url-credentials",
        f"git fetch https://deploy:{URL_PASSWORD}@git.example.com/acme/repo.git",
        URL_PASSWORD,
        ph.CREDENTIALS,
    ),
    ("authorization-bearer-opaque", f"Authorization: Bearer {OPAQUE}", OPAQUE, ph.REDACTED),
    ("authorization-basic", f"Authorization: Basic {BASIC}", BASIC, ph.REDACTED),
    ("authorization-token-hex", f"Authorization: token {HEX_KEY}", HEX_KEY, ph.REDACTED),
    (
        "authorization-digest",
        f'Authorization: Digest username="deploy", response="{HEX_KEY}"',
        HEX_KEY,
        ph.REDACTED,
    ),
    (
        "authorization-json-header",
        f'{{"headers": {{"Authorization": "Bearer {OPAQUE}"}}}}',
        OPAQUE,
        ph.REDACTED,
    ),
    (
        "bearer-in-curl",
        f"curl -H 'Authorization: Bearer {OPAQUE}' https://api.example.com",
        OPAQUE,
        ph.REDACTED,
    ),
    ("x-api-key-header", f"X-Api-Key: {HEX_KEY}", HEX_KEY, ph.REDACTED),
    ("password-query", f"POST /login?user=bob&password={PASSWORD}&next=/", PASSWORD, ph.REDACTED),
    ("password-json", f'{{"user": "bob", "password": "{PASSWORD}"}}', PASSWORD, ph.REDACTED),
    ("password-yaml", f"  password: {PASSWORD}", PASSWORD, ph.REDACTED),
    ("password-env", f"DB_PASSWORD={PASSWORD}", PASSWORD, ph.REDACTED),
    ("password-camel-case", f"dbPassword = '{PASSWORD}'", PASSWORD, ph.REDACTED),
    (
        "password-cli-flag",
        f"mysqladmin --user root --password {PASSWORD} status",
        PASSWORD,
        ph.REDACTED,
    ),
    (
        "password-escaped-json-in-string",
        f'"body": "{{\\"user\\": \\"bob\\", \\"password\\": \\"{PASSWORD}\\"}}"',
        PASSWORD,
        ph.REDACTED,
    ),
    ("access-token-query", f"GET /cb?access_token={OPAQUE}&state=1", OPAQUE, ph.REDACTED),
    ("client-secret-yaml", f"client_secret: {HEX_KEY}", HEX_KEY, ph.REDACTED),
    ("api-key-camel-json", f'{{"apiKey": "{HEX_KEY}"}}', HEX_KEY, ph.REDACTED),
    ("secret-key-django", f"SECRET_KEY = '{PASSWORD}'", PASSWORD, ph.REDACTED),
    (
        "signed-url-signature",
        f"GET /o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature={HEX_KEY}",
        HEX_KEY,
        ph.REDACTED,
    ),
    ("azure-sas-sig", f"?sv=2022-11-02&ss=b&sig={SESSION}%3D", SESSION, ph.REDACTED),
    (
        "azure-account-key",
        f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={AWS_SECRET}==;",
        AWS_SECRET,
        ph.REDACTED,
    ),
    (
        "cookie-header",
        f"Cookie: theme=dark; sessionid={SESSION}; csrftoken={OPAQUE}",
        SESSION,
        ph.REDACTED,
    ),
    (
        "set-cookie-header",
        f"Set-Cookie: sid={SESSION}; Path=/; HttpOnly; Secure",
        SESSION,
        ph.REDACTED,
    ),
    ("github-token-env", f"GITHUB_TOKEN={OPAQUE}", OPAQUE, ph.REDACTED),
    (
        "email",
        "escalated to jane.doe+ops@example.co.uk by the on-call",
        "jane.doe+ops@example",
        ph.EMAIL,
    ),
    ("email-in-json", '{"owner": "sre-team@acme.io"}', "sre-team@acme.io", ph.EMAIL),
    ("netrc", f"machine api.example.com login deploy password {PASSWORD}", PASSWORD, ph.REDACTED),
    (
        "curl-user",
        f"curl -u admin:{PASSWORD} https://ci.example.com/api/json",
        PASSWORD,
        ph.REDACTED,
    ),
    ("redis-cli", f"redis-cli -h cache -a {PASSWORD} ping", PASSWORD, ph.REDACTED),
    (
        "docker-login",
        f"docker login -u bob -p {PASSWORD} registry.example.com",
        PASSWORD,
        ph.REDACTED,
    ),
    ("mysql-short-option", f"mysql -h db -P 3306 -u root -p{PASSWORD} app", PASSWORD, ph.REDACTED),
    ("sshpass", f"sshpass -p {PASSWORD} ssh deploy@10.0.0.4", PASSWORD, ph.REDACTED),
    (
        "github-token-as-url-password",
        f"https://x-access-token:{GHS}@github.com/acme/repo",
        GHS,
        ph.GH_TOKEN,
    ),
]


@pytest.mark.parametrize(
    ("line", "secret", "placeholder"), [pytest.param(*row[1:], id=row[0]) for row in CONTEXTUAL]
)
def test_a_secret_known_by_its_context_is_redacted(
    line: str, secret: str, placeholder: str
) -> None:
    """Values of secret-named fields, headers, DSNs and URLs vanish; the field name stays."""
    output = redact_text(line)
    _assert_gone(secret, output)
    assert placeholder in output


def test_the_dsn_keeps_scheme_host_port_and_database() -> None:
    """A URL-form DSN loses user and password, nothing else."""
    line = f"postgres://app:{URL_PASSWORD}@db.internal:5432/app?sslmode=require"
    assert redact_text(line) == "postgres://[REDACTED_DB_DSN]@db.internal:5432/app?sslmode=require"


def test_a_multi_line_private_key_block_goes_whole() -> None:
    """The whole PEM block, BEGIN to END, becomes one placeholder; text around it stays."""
    pem = _pem("RSA PRIVATE KEY")
    assert redact_text(f"key:\n{pem}\nloaded") == "key:\n[REDACTED_PRIVATE_KEY]\nloaded"


ORDINARY = (Path(__file__).parent.parent / "data" / "redaction" / "ordinary.txt").read_text()


@pytest.mark.parametrize(
    "line", [pytest.param(line, id=f"line{n:02d}") for n, line in enumerate(ORDINARY.splitlines())]
)
def test_an_ordinary_ops_line_comes_out_byte_identical(line: str) -> None:
    """Timestamps, UUIDs, SHAs, job ids, paths, URLs and ordinary words are not touched."""
    assert redact_text(line) == line


def test_the_ordinary_corpus_as_one_text_is_untouched() -> None:
    """Redacting the corpus whole (as a report body) changes nothing either."""
    assert redact_text(ORDINARY) == ORDINARY


def test_redacting_twice_changes_nothing_more() -> None:
    """Redaction is idempotent: placeholders are never redacted again."""
    lines = [w.format(s=s) for _, s, _ in SHAPED for w in ("x {s} y", "token={s}")]
    lines += [row[1] for row in CONTEXTUAL]
    for line in lines:
        once = redact_text(line)
        assert redact_text(once) == once, line


def test_structured_payloads_from_the_corpus_are_clean_after_redact_data() -> None:
    """A JSON payload holding every shaped secret as values serialises without any of them."""
    payload = {"items": [{"id": i, "note": f"value {s}"} for i, s, _ in SHAPED]}
    dumped = json.dumps(redact_data(payload))
    for _, secret, _ in SHAPED:
        assert secret not in dumped
