"""The Redactor's API: configuration, structured data, field names, random strings, the CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared import cli
from shared.redaction import (
    PATTERNS_ENV,
    PLACEHOLDER_ENV,
    RedactionConfigError,
    Redactor,
    default_redactor,
    is_secret_key,
    redact_data,
    redact_text,
)
from shared.redaction.entropy import looks_random
from shared.settings import SettingsError

GH = "ghp_" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5"
RANDOM = "Zx9Kq2LmN4pR7sT1vW3yB5dF8hJ0kC6gQwErTy"


# -- configuration -----------------------------------------------------------------------------


def test_custom_patterns_and_placeholder_from_the_constructor() -> None:
    """A schedule's own redaction.patterns / placeholder apply on top of the built-in rules."""
    redactor = Redactor(patterns=[r"ACME-\d{6}"], placeholder="***")
    assert redactor.redact_text("ticket ACME-123456 token=hunter2") == "ticket *** token=***"
    # typed placeholders are not affected by the custom one
    assert redactor.redact_text(GH) == "[REDACTED_GH_TOKEN]"


def test_a_named_secret_group_limits_what_a_custom_pattern_replaces() -> None:
    """With (?P<secret>...), only that group goes and the context stays."""
    redactor = Redactor(patterns=[r"employee=(?P<secret>\d+)"])
    assert redactor.redact_text("employee=4711 left") == "employee=[REDACTED] left"


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        pytest.param(["(unclosed"], "does not compile", id="bad-regex"),
        pytest.param(["a*"], "matches the empty string", id="empty-match"),
        pytest.param([""], "non-empty string", id="empty-pattern"),
        pytest.param([42], "non-empty string", id="not-a-string"),
    ],
)
def test_an_unusable_custom_pattern_is_refused_with_its_reason(
    patterns: list[Any], message: str
) -> None:
    """A bad pattern fails construction, naming the problem."""
    with pytest.raises(RedactionConfigError, match=message):
        Redactor(patterns=patterns)


def test_custom_patterns_and_placeholder_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OPSPLANE_REDACTION_PATTERNS (JSON list) and ..._PLACEHOLDER shape the module functions."""
    monkeypatch.setenv(PATTERNS_ENV, json.dumps([r"ACME-\d{6}"]))
    monkeypatch.setenv(PLACEHOLDER_ENV, "<gone>")
    assert redact_text("ACME-123456 password=x1") == "<gone> password=<gone>"
    monkeypatch.delenv(PATTERNS_ENV)
    monkeypatch.delenv(PLACEHOLDER_ENV)
    assert redact_text("ACME-123456 password=x1") == "ACME-123456 password=[REDACTED]"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("not json", id="not-json"),
        pytest.param('{"a": 1}', id="not-a-list"),
        pytest.param('["(unclosed"]', id="bad-regex"),
    ],
)
def test_a_malformed_environment_is_a_settings_error_naming_the_variable(raw: str) -> None:
    """Start-up validation (Redactor.from_env) names OPSPLANE_REDACTION_PATTERNS."""
    with pytest.raises(SettingsError) as caught:
        Redactor.from_env({PATTERNS_ENV: raw})
    assert caught.value.variable == PATTERNS_ENV


def test_the_default_redactor_never_breaks_on_a_bad_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Logging must not fail: a bad custom pattern falls back to the built-in rules."""
    monkeypatch.setenv(PATTERNS_ENV, "[unclosed")
    assert redact_text(f"token {GH}") == "token [REDACTED_GH_TOKEN]"
    assert default_redactor() is default_redactor()


# -- structured data ---------------------------------------------------------------------------


def test_redact_data_replaces_values_of_secret_named_keys_whatever_they_are() -> None:
    """password/apiKey/Authorization/credentials values go, even numbers and nested objects."""
    payload = {
        "user": "bob",
        "password": "hunter2",
        "apiKey": 12345,
        "Authorization": "Bearer abc",
        "credentials": {"type": "service_account", "id": 7},
        "Set-Cookie": ["sid=1", "theme=dark"],
        "X-Hub-Signature-256": "sha256=abc",
        "client_secret": "s3",
        "db_pass": "p",
        "aws_secret_access_key": "k",
    }
    redacted = redact_data(payload)
    assert redacted["user"] == "bob"
    for key in payload.keys() - {"user"}:
        assert redacted[key] == "[REDACTED]", key


def test_redact_data_walks_nested_containers_and_keeps_their_types() -> None:
    """Dicts in lists in tuples are walked; strings anywhere are redacted by pattern."""
    payload = {"runs": [{"notes": (f"used {GH}", 3)}], "tags": {"a"}, "n": 1.5, "ok": True}
    redacted = redact_data(payload)
    assert redacted == {
        "runs": [{"notes": ("used [REDACTED_GH_TOKEN]", 3)}],
        "tags": {"a"},
        "n": 1.5,
        "ok": True,
    }
    assert payload["runs"][0]["notes"][0] == f"used {GH}"  # the input is not modified


def test_redact_data_keeps_absent_secrets_and_ordinary_fields() -> None:
    """None and "" under a secret key say "not set" and stay; counts named like tokens stay."""
    payload = {"password": None, "token": "", "max_tokens": 4096, "secret_name": "db-password"}
    assert redact_data(payload) == payload


def test_redact_data_redacts_secrets_in_keys_too() -> None:
    """A secret used as a dict key does not survive either."""
    assert redact_data({GH: 1}) == {"[REDACTED_GH_TOKEN]": 1}


def test_redact_data_survives_a_cycle() -> None:
    """A self-referencing structure is cut at the cycle instead of recursing forever."""
    loop: dict[str, Any] = {"name": "a"}
    loop["self"] = loop
    assert redact_data(loop) == {"name": "a", "self": "[REDACTED]"}


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        pytest.param("password", True, id="password"),
        pytest.param("DB_PASSWORD", True, id="env-style"),
        pytest.param("dbPassword", True, id="camel-case"),
        pytest.param("passwd", True, id="passwd"),
        pytest.param("pwd", True, id="pwd"),
        pytest.param("GITHUB_TOKEN", True, id="github-token"),
        pytest.param("x-auth-token", True, id="header-token"),
        pytest.param("X-Api-Key", True, id="x-api-key"),
        pytest.param("apikey", True, id="apikey"),
        pytest.param("clientSecret", True, id="client-secret"),
        pytest.param("private_key", True, id="private-key"),
        pytest.param("AccountKey", True, id="azure-account-key"),
        pytest.param("Authorization", True, id="authorization"),
        pytest.param("proxy-authorization", True, id="proxy-authorization"),
        pytest.param("cookie", True, id="cookie"),
        pytest.param("Set-Cookie", True, id="set-cookie"),
        pytest.param("X-Hub-Signature-256", True, id="signature"),
        pytest.param("sig", True, id="sig"),
        pytest.param("basic_auth", True, id="basic-auth"),
        pytest.param("credentials", True, id="credentials"),
        pytest.param("max_tokens", False, id="max-tokens"),
        pytest.param("token_count", False, id="token-count"),
        pytest.param("next_page_token", False, id="page-token"),
        pytest.param("secret_name", False, id="secret-name"),
        pytest.param("bypass", False, id="bypass"),
        pytest.param("oauth", False, id="oauth"),
        pytest.param("key", False, id="plain-key"),
        pytest.param("cache_key", False, id="cache-key"),
        pytest.param("idempotency_key", False, id="idempotency-key"),
        pytest.param("OLDPWD", False, id="oldpwd"),
        pytest.param("author", False, id="author"),
    ],
)
def test_field_names_are_judged_by_their_last_word(name: str, secret: bool) -> None:
    """A name is secret when it ends with a secret word, however it is cased or separated."""
    assert is_secret_key(name) is secret


# -- random-looking strings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "random"),
    [
        pytest.param(RANDOM, True, id="alnum-40"),
        pytest.param("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", True, id="aws-secret-shape"),
        pytest.param("dGhpcyBpcyBhIHRlc3Qgb2YgYmFzZTY0IGVuY29kaW5n", True, id="base64"),
        pytest.param("9fceb02d0ae598e95dc970b74767f19372d61af8", False, id="git-sha-40"),
        pytest.param(
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", False, id="sha256"
        ),
        pytest.param("3f2b1c4e-1a2b-4c3d-9e8f-0123456789ab-ffff", False, id="uuid-like"),
        pytest.param("AbstractSingletonProxyFactoryBean2Impl", False, id="camel-identifier"),
        pytest.param("opsplane_redaction_patterns_environment_v2", False, id="snake-identifier"),
        pytest.param("opsplane-worker-7f9c8d6b5d-x2x9k-abcdef", False, id="pod-name"),
        pytest.param("operation-1719450600000-61c2f0a1b2c3d-8e9f0a1b", False, id="operation-id"),
        pytest.param("/api/v1/jobs/20260627T0030Z-latency/runs", False, id="http-path"),
    ],
)
def test_only_random_looking_runs_count_as_secrets(candidate: str, random: bool) -> None:
    """Mixed, class-switching, high-entropy runs are secrets; hex, ids and identifiers are not."""
    assert looks_random(candidate) is random


def test_a_random_segment_inside_a_path_goes_alone() -> None:
    """In /objects/<key>/meta only the key is replaced, the path stays readable."""
    assert redact_text(f"GET /objects/{RANDOM}/meta") == "GET /objects/[REDACTED]/meta"


def test_non_ascii_text_keeps_its_characters_and_offsets() -> None:
    """Characters whose lowercase is longer (İ) do not shift what gets replaced."""
    text = f"İstanbul ünïcode — password=s3cr3t and {GH} ✓"
    assert redact_text(text) == "İstanbul ünïcode — password=[REDACTED] and [REDACTED_GH_TOKEN] ✓"


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "text",
    [
        pytest.param(("a" * 5000 + "@" + "b=" * 5000 + " ") * 10, id="runs-at-and-equals"),
        pytest.param("-" * 100_000, id="dash-rule"),
        pytest.param("://" + "@" * 50_000, id="url-of-ats"),
        pytest.param("x@" + "a." * 40_000 + "1", id="dotted-domain"),
        pytest.param("-----BEGIN PRIVATE KEY-----" + "A" * 100_000, id="unterminated-key"),
        pytest.param("password=" * 20_000, id="repeated-keys"),
        pytest.param("aB" * 60_000, id="camel-run"),
        pytest.param("{{" * 30_000, id="open-templates"),
    ],
)
def test_pathological_input_does_not_hang(text: str) -> None:
    """Inputs built to make regexes backtrack finish (the timeout fails a hang)."""
    assert isinstance(redact_text(text), str)


# -- opsplane redact ---------------------------------------------------------------------------


def _run_cli(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def test_opsplane_redact_filters_stdin_to_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every line comes out, in order, with its secrets replaced and the rest untouched."""
    stdin = f"start 2026-06-27T00:30:00Z\ntoken {GH}\npassword=hunter2\nend\n"
    code, out, _ = _run_cli(monkeypatch, ["redact"], stdin)
    assert code == 0
    assert out == (
        "start 2026-06-27T00:30:00Z\ntoken [REDACTED_GH_TOKEN]\npassword=[REDACTED]\nend\n"
    )


def test_opsplane_redact_takes_a_private_key_block_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PEM block spread over lines becomes one placeholder, END line included."""
    body = "\n".join(RANDOM[:30] + "Ab+/" * 8 for _ in range(3))
    stdin = f"before\n-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\nafter\n"
    _, out, _ = _run_cli(monkeypatch, ["redact"], stdin)
    assert out == "before\n[REDACTED_PRIVATE_KEY]\nafter\n"


def test_opsplane_redact_options_add_patterns_and_set_the_placeholder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--pattern adds to the configured patterns and --placeholder replaces the generic one."""
    monkeypatch.setenv(PATTERNS_ENV, json.dumps([r"ACME-\d{6}"]))
    _, out, _ = _run_cli(
        monkeypatch,
        ["redact", "--pattern", r"ORD-\d+", "--placeholder", "###"],
        "ACME-123456 ORD-77 password=x\n",
    )
    assert out == "### ### password=###\n"


def test_opsplane_redact_refuses_a_bad_pattern_with_exit_code_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pattern that does not compile is reported on stderr; nothing is written to stdout."""
    code, out, err = _run_cli(monkeypatch, ["redact", "--pattern", "(unclosed"], "x\n")
    assert code == 2
    assert out == ""
    assert "does not compile" in err


def test_the_installed_console_script_redacts_a_pipe() -> None:
    """`opsplane redact` as a real process: stdin in, redacted stdout out."""
    script = Path(sys.executable).parent / "opsplane"
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    done = subprocess.run(
        [str(script), "redact"],
        input=f"deploy with {GH} to postgres://app:pw1@db:5432/app\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "deploy with [REDACTED_GH_TOKEN] to postgres://[REDACTED_DB_DSN]@db:5432/app\n"
    )
