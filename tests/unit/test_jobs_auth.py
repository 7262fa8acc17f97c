"""Caller authentication: API tokens (plain or hashed, named), the tasks token, OIDC."""

from __future__ import annotations

import hashlib

import pytest

from shared.auth import (
    authenticate_api,
    authenticate_api_or_tasks,
    authenticate_tasks,
    match_token,
    parse_api_tokens,
)
from shared.http.edge import Headers, Request
from shared.http.errors import Unauthorized
from shared.settings import SettingsError

HASH = hashlib.sha256(b"s3cret").hexdigest()
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"


def request(authorization: str | None = None) -> Request:
    headers = [("Authorization", authorization)] if authorization else []
    return Request("POST", "/runs", Headers(headers), {}, b"", "rid")


@pytest.mark.parametrize(
    ("raw", "token", "name"),
    [
        pytest.param("alice=tok-a,bob=tok-b", "tok-b", "bob", id="named-plain"),
        pytest.param(f"ops=sha256:{HASH}", "s3cret", "ops", id="named-hash"),
        pytest.param(f"sha256:{HASH.upper()}", "s3cret", f"token-{HASH[:8]}", id="unnamed-hash"),
        pytest.param("s3cret", "s3cret", f"token-{HASH[:8]}", id="unnamed-plain"),
        pytest.param(" a = x , ,b=y ", "y", "b", id="spaces-and-blanks"),
        pytest.param("alice=tok-a", "tok-b", None, id="no-match"),
        pytest.param(f"ops=sha256:{HASH}", f"sha256:{HASH}", None, id="the-hash-is-not-a-token"),
    ],
)
def test_token_entries_match_by_hash(raw: str, token: str, name: str | None) -> None:
    """Plain and sha256: entries both match the token itself and yield the entry's name."""
    assert match_token(token, parse_api_tokens(raw)) == name


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("=tok", id="empty-name"),
        pytest.param("alice=", id="empty-token"),
        pytest.param("alice=sha256:abc", id="short-hash"),
        pytest.param("alice=sha256:" + "z" * 64, id="not-hex"),
    ],
)
def test_malformed_token_entries_name_the_variable(raw: str) -> None:
    """A bad OPSPLANE_API_TOKENS entry is a SettingsError naming the variable."""
    with pytest.raises(SettingsError) as caught:
        parse_api_tokens(raw)
    assert caught.value.variable == "OPSPLANE_API_TOKENS"


def test_the_api_caller_is_the_token_s_name() -> None:
    """A valid bearer token authenticates as its entry's name."""
    env = {"OPSPLANE_API_TOKENS": f"ci=sha256:{HASH}"}
    caller = authenticate_api(request("Bearer s3cret"), env)
    assert (caller.name, caller.method) == ("ci", "token")


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        pytest.param(None, "missing_credentials", id="missing"),
        pytest.param("Bearer ", "missing_credentials", id="empty"),
        pytest.param("Token s3cret", "missing_credentials", id="other-scheme"),
        pytest.param("Bearer nope", "invalid_credentials", id="wrong"),
    ],
)
def test_api_auth_failures_are_401(authorization: str | None, code: str) -> None:
    """Missing or wrong credentials are Unauthorized with a precise code."""
    with pytest.raises(Unauthorized) as caught:
        authenticate_api(request(authorization), {"OPSPLANE_API_TOKENS": "a=s3cret"})
    assert caught.value.code == code


def test_no_configured_tokens_lets_nobody_in() -> None:
    """With OPSPLANE_API_TOKENS unset every token is refused."""
    with pytest.raises(Unauthorized):
        authenticate_api(request("Bearer anything"), {})


def test_the_tasks_token_is_not_an_api_token_and_vice_versa() -> None:
    """TASKS_AUTH_TOKEN opens /tasks only; API tokens open the API only."""
    env = {"OPSPLANE_API_TOKENS": "a=api-tok", "TASKS_AUTH_TOKEN": "task-tok"}
    assert authenticate_tasks(request("Bearer task-tok"), env).name == "tasks"
    with pytest.raises(Unauthorized):
        authenticate_tasks(request("Bearer api-tok"), env)
    with pytest.raises(Unauthorized):
        authenticate_api(request("Bearer task-tok"), env)
    assert authenticate_api_or_tasks(request("Bearer api-tok"), env).name == "a"


def test_an_oidc_token_is_verified_for_the_tasks_audience() -> None:
    """With TASKS_OIDC_AUDIENCE set, a JWT goes to the verifier; its email is the caller."""
    seen: list[tuple[str, str, tuple[str, ...]]] = []

    def verify(token: str, audience: str, allowed: tuple[str, ...]) -> str:
        seen.append((token, audience, allowed))
        return "tasks@project.iam.gserviceaccount.com"

    env = {
        "TASKS_OIDC_AUDIENCE": "https://worker",
        "TASKS_OIDC_ALLOWED_EMAILS": "tasks@project.iam.gserviceaccount.com",
    }
    caller = authenticate_tasks(request(f"Bearer {JWT}"), env, verify_oidc=verify)
    assert (caller.name, caller.method) == ("tasks@project.iam.gserviceaccount.com", "oidc")
    assert seen == [(JWT, "https://worker", ("tasks@project.iam.gserviceaccount.com",))]


def test_a_jwt_without_oidc_configured_is_just_a_wrong_token() -> None:
    """No audience configured: a JWT is compared as a static token (and fails)."""
    with pytest.raises(Unauthorized):
        authenticate_tasks(request(f"Bearer {JWT}"), {"TASKS_AUTH_TOKEN": "t"})


@pytest.mark.parametrize(
    ("email", "audience", "accepted"),
    [
        pytest.param("tasks@p.iam.gserviceaccount.com", "https://worker", True, id="allowed"),
        pytest.param("other@p.iam.gserviceaccount.com", "https://worker", False, id="email"),
        pytest.param("tasks@p.iam.gserviceaccount.com", "https://elsewhere", False, id="aud"),
    ],
)
def test_oidc_tokens_through_the_real_verifier_and_a_loopback_issuer(
    monkeypatch: pytest.MonkeyPatch, email: str, audience: str, accepted: bool
) -> None:
    """A Google-style ID token signed by a loopback issuer: allowed email and audience only."""
    from tests.oidc_server import OidcTestServer

    with OidcTestServer() as issuer:
        monkeypatch.setenv("OPSPLANE_OIDC_CERTS_URL", issuer.certs_url)
        env = {
            "TASKS_OIDC_AUDIENCE": "https://worker",
            "TASKS_OIDC_ALLOWED_EMAILS": "tasks@p.iam.gserviceaccount.com",
        }
        token = issuer.mint(audience=audience, email=email)
        if accepted:
            caller = authenticate_tasks(request(f"Bearer {token}"), env)
            assert (caller.name, caller.method) == (email, "oidc")
        else:
            with pytest.raises(Unauthorized) as caught:
                authenticate_tasks(request(f"Bearer {token}"), env)
            assert caught.value.code == "invalid_credentials"
