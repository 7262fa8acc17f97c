"""OIDC ID tokens signed by a local RSA key, certificates served over loopback HTTP."""

from __future__ import annotations

import base64
import functools
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.oidc import CertsUnavailable, OidcVerifier, VerificationError
from tests.oidc_server import OidcTestServer

AUDIENCE = "https://callbacks.example.run.app"
CALLER = "worker@project.iam.gserviceaccount.com"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, moment: datetime = NOW) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture(scope="module")
def issuer():
    with OidcTestServer(kids=("key-1", "key-2")) as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(issuer, clock) -> OidcVerifier:
    return OidcVerifier(AUDIENCE, [CALLER], certs_url=issuer.certs_url, clock=clock)


def mint(server: OidcTestServer, /, **kwargs) -> str:
    kwargs.setdefault("audience", AUDIENCE)
    kwargs.setdefault("email", CALLER)
    kwargs.setdefault("issued_at", NOW.timestamp() - 60)
    return server.mint(**kwargs)


def test_valid_token_yields_the_identity(issuer, verifier) -> None:
    """A Google-shaped token for the audience from an allowed, verified email verifies."""
    identity = verifier.verify(mint(issuer))
    assert identity.email == CALLER
    assert identity.subject == "1234567890"
    assert identity.claims["aud"] == AUDIENCE


def test_second_key_and_bare_issuer_verify(issuer, verifier) -> None:
    """Either served key works, and the issuer may be spelled without https://."""
    token = mint(issuer, kid="key-2", issuer="accounts.google.com")
    assert verifier.verify(token).email == CALLER


def tampered_payload(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = "attacker@evil.example"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@functools.cache
def foreign_issuer() -> OidcTestServer:
    other = OidcTestServer(kids=("key-unknown",))
    other.stop()  # only its key is needed
    return other


def foreign_kid(issuer: OidcTestServer) -> str:
    """A well-formed token signed by a key the certificates endpoint does not serve."""
    claims = issuer.claims(audience=AUDIENCE, email=CALLER, issued_at=NOW.timestamp())
    return foreign_issuer().sign(claims)


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        pytest.param(lambda s: mint(s, audience="https://other"), "audience", id="wrong-audience"),
        pytest.param(lambda s: mint(s, issuer="https://evil.example"), "issuer", id="wrong-issuer"),
        pytest.param(
            lambda s: mint(s, issued_at=NOW.timestamp() - 7200, lifetime=3600),
            "expired",
            id="expired",
        ),
        pytest.param(
            lambda s: mint(s, issued_at=NOW.timestamp() + 3600), "future", id="issued-in-future"
        ),
        pytest.param(lambda s: mint(s, email_verified=False), "not verified", id="unverified"),
        pytest.param(
            lambda s: mint(s, email="someone@else.example"), "not allowed", id="email-not-allowed"
        ),
        pytest.param(lambda s: mint(s, email=""), "no email", id="no-email"),
        pytest.param(foreign_kid, "key id", id="unknown-key-id"),
        pytest.param(lambda s: tampered_payload(mint(s)), "signature", id="tampered-payload"),
        pytest.param(lambda s: "garbage", "not a JWT", id="garbage"),
        pytest.param(lambda s: "a.b.c", "header", id="three-garbage-parts"),
        pytest.param(
            lambda s: mint(s).rsplit(".", 1)[0] + ".!!!", "not valid", id="bad-signature-base64"
        ),
        pytest.param(
            lambda s: base64.urlsafe_b64encode(b'["list"]').decode() + ".e30.e30",
            "header",
            id="header-not-object",
        ),
        pytest.param(
            lambda s: base64.urlsafe_b64encode(b'{"alg":"none"}').decode().rstrip("=") + ".e30.",
            "not valid",
            id="alg-none",
        ),
    ],
)
def test_bad_tokens_raise_verification_error(issuer, verifier, make_token, reason) -> None:
    """Every way a token can be wrong raises VerificationError, with the reason in the message."""
    with pytest.raises(VerificationError, match=reason):
        verifier.verify(make_token(issuer))


def test_certificates_are_cached_by_max_age(issuer, clock) -> None:
    """Within max-age no refetch happens; after it the certificates are fetched again."""
    verifier = OidcVerifier(AUDIENCE, [CALLER], certs_url=issuer.certs_url, clock=clock)
    before = issuer.requests
    for _ in range(5):
        verifier.verify(mint(issuer))
    assert issuer.requests - before == 1
    clock.moment = NOW + timedelta(seconds=issuer.max_age + 1)
    verifier.verify(mint(issuer, issued_at=clock.moment.timestamp()))
    assert issuer.requests - before == 2


def test_unknown_key_id_refetches_at_most_once_per_interval(issuer, clock, verifier) -> None:
    """A flood of unknown-kid tokens cannot turn into a flood of certificate fetches."""
    verifier.verify(mint(issuer))
    before = issuer.requests
    clock.moment = NOW + timedelta(seconds=31)
    for _ in range(5):
        with pytest.raises(VerificationError):
            verifier.verify(foreign_kid(issuer))
    assert issuer.requests - before == 1


@pytest.mark.parametrize(
    ("allowed", "email", "ok"),
    [
        pytest.param([], CALLER, False, id="empty-allows-nobody"),
        pytest.param(["*"], "anyone@example.com", True, id="star-allows-any-verified"),
        pytest.param([CALLER.upper()], CALLER, True, id="case-insensitive"),
    ],
)
def test_allowed_emails_policy(issuer, clock, allowed, email, ok) -> None:
    """An empty allow list allows nobody; '*' allows any verified email."""
    verifier = OidcVerifier(AUDIENCE, allowed, certs_url=issuer.certs_url, clock=clock)
    token = mint(issuer, email=email)
    if ok:
        assert verifier.verify(token).email == email
    else:
        with pytest.raises(VerificationError, match="not allowed"):
            verifier.verify(token)


def test_star_still_requires_a_verified_email(issuer, clock) -> None:
    """'*' does not waive email_verified."""
    verifier = OidcVerifier(AUDIENCE, ["*"], certs_url=issuer.certs_url, clock=clock)
    with pytest.raises(VerificationError, match="not verified"):
        verifier.verify(mint(issuer, email_verified=False))


def test_unreachable_certs_endpoint_is_certs_unavailable(issuer, clock) -> None:
    """A dead certificates endpoint is reported as CertsUnavailable (still a VerificationError)."""
    verifier = OidcVerifier(
        AUDIENCE, [CALLER], certs_url="http://127.0.0.1:9/certs", clock=clock, timeout=1.0
    )
    with pytest.raises(CertsUnavailable):
        verifier.verify(mint(issuer))


def test_cached_certificates_outlive_an_endpoint_outage(clock) -> None:
    """After max-age, a dead endpoint does not stop verification with the cached certificates."""
    server = OidcTestServer(max_age=60).start()
    verifier = OidcVerifier(
        AUDIENCE, [CALLER], certs_url=server.certs_url, clock=clock, timeout=1.0
    )
    verifier.verify(mint(server))
    server.stop()
    clock.moment = NOW + timedelta(seconds=120)
    token = mint(server, issued_at=clock.moment.timestamp())
    assert verifier.verify(token).email == CALLER
    assert verifier.fetch_count == 1
