"""Verification of Google-signed OIDC ID tokens (Cloud Tasks, Cloud Scheduler, callers).

google-auth checks the signature and the audience; it reads its own wall clock
and checks neither the issuer nor the caller's email. So this module:

* fetches the certificates itself (``certs_url``, Google's v1 PEM endpoint by
  default) and caches them for the response's ``Cache-Control: max-age``,
  measured on the injected clock;
* lets google-auth verify signature and audience, with its clock check
  disabled, then checks ``iat``/``exp`` against the injected clock;
* checks the issuer, ``email_verified`` and the allowed emails.

Allowed emails: an empty collection allows nobody (a forgotten setting must not
open the door); ``"*"`` allows any verified email.

Every failure raises :class:`VerificationError`. A certificate endpoint that
cannot be reached raises its subclass :class:`CertsUnavailable`, so a caller may
answer 503 instead of 401; catching VerificationError still catches both. Once
certificates were fetched, an unreachable endpoint does not stop verification:
the cached ones stay in use and the endpoint is tried again every 30 seconds.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.clock import Clock, utcnow

if TYPE_CHECKING:
    import httpx

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
ANY_EMAIL = "*"
DEFAULT_CERTS_MAX_AGE = timedelta(minutes=5)
# An unknown key id may mean Google rotated keys: refetch, but not more often than this,
# so a stream of garbage tokens cannot turn into a stream of certificate fetches.
MIN_REFETCH_INTERVAL = timedelta(seconds=30)
# google-auth compares exp/iat with its own clock; a skew this wide switches that off,
# and the same checks are made below against the injected clock.
_DISABLE_LIBRARY_CLOCK = 100 * 365 * 24 * 3600
_MAX_AGE = re.compile(r"max-age=(\d+)")


class VerificationError(Exception):
    """The token does not prove an allowed caller; the message says why."""


class CertsUnavailable(VerificationError):
    """The signing certificates could not be fetched; the token was not judged."""


@dataclass(frozen=True)
class OidcIdentity:
    """The verified caller."""

    email: str
    subject: str
    claims: dict[str, Any] = field(repr=False)


class OidcVerifier:
    """Verifies ID tokens for one audience and a set of allowed caller emails."""

    def __init__(
        self,
        audience: str,
        allowed_emails: Collection[str],
        certs_url: str = GOOGLE_CERTS_URL,
        clock: Clock = utcnow,
        http: httpx.Client | None = None,
        *,
        clock_skew: timedelta = timedelta(seconds=30),
        timeout: float = 5.0,
    ) -> None:
        if not audience:
            raise ValueError("an OIDC audience is required")
        self.audience = audience
        self.allowed_emails = frozenset(email.strip().lower() for email in allowed_emails)
        self.certs_url = certs_url
        self._clock = clock
        self._http = http
        self._skew = clock_skew
        self._timeout = timeout
        self._lock = threading.Lock()
        self._certs: dict[str, str] = {}
        self._expires: datetime | None = None
        self._fetched_at: datetime | None = None
        self.fetch_count = 0

    def verify(self, token: str) -> OidcIdentity:
        """The identity a valid token proves; raises VerificationError otherwise."""
        if not isinstance(token, str) or token.count(".") != 2:
            raise VerificationError("the token is not a JWT")
        kid = _key_id(token)
        certs = self._certs_for(kid)
        claims = _decode(token, certs, self.audience)
        self._check_times(claims)
        issuer = claims.get("iss")
        if issuer not in GOOGLE_ISSUERS:
            raise VerificationError(f"the token's issuer {issuer!r} is not Google")
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise VerificationError("the token carries no email claim")
        if claims.get("email_verified") not in (True, "true"):
            raise VerificationError(f"the email {email} is not verified")
        if ANY_EMAIL not in self.allowed_emails and email.lower() not in self.allowed_emails:
            raise VerificationError(f"the caller {email} is not allowed")
        subject = claims.get("sub")
        return OidcIdentity(email=email, subject=str(subject or ""), claims=dict(claims))

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self._clock().timestamp()
        skew = self._skew.total_seconds()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise VerificationError("the token lacks numeric exp and iat claims")
        if now > exp + skew:
            raise VerificationError("the token has expired")
        if now < iat - skew:
            raise VerificationError("the token was issued in the future")

    def _certs_for(self, kid: str | None) -> dict[str, str]:
        with self._lock:
            now = self._clock()
            expired = self._expires is None or now >= self._expires
            unknown_kid = kid is not None and kid not in self._certs
            if expired or (unknown_kid and self._may_refetch(now)):
                try:
                    self._refresh(now)
                except CertsUnavailable:
                    if not self._certs:
                        raise
                    # Keep verifying with the certificates we have (Google publishes keys
                    # well before use and retires them slowly); try the endpoint again soon.
                    self._fetched_at = now
                    self._expires = now + MIN_REFETCH_INTERVAL
            return self._certs

    def _may_refetch(self, now: datetime) -> bool:
        return self._fetched_at is None or now - self._fetched_at >= MIN_REFETCH_INTERVAL

    def _refresh(self, now: datetime) -> None:
        import httpx

        client = self._http or httpx.Client(timeout=self._timeout)
        try:
            response = client.get(self.certs_url)
            response.raise_for_status()
            certs = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise CertsUnavailable(f"cannot fetch signing certificates: {exc}") from exc
        finally:
            if self._http is None:
                client.close()
        self.fetch_count += 1
        if not isinstance(certs, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in certs.items()
        ):
            raise CertsUnavailable("the certificates endpoint did not return a {kid: PEM} object")
        self._certs = certs
        self._fetched_at = now
        self._expires = now + _max_age(response.headers.get("cache-control", ""))


def _max_age(cache_control: str) -> timedelta:
    if "no-store" in cache_control or "no-cache" in cache_control:
        return timedelta(0)
    match = _MAX_AGE.search(cache_control)
    return timedelta(seconds=int(match.group(1))) if match else DEFAULT_CERTS_MAX_AGE


def _key_id(token: str) -> str | None:
    from google.auth import jwt

    try:
        header = jwt.decode_header(token)  # type: ignore[no-untyped-call]
    # google-auth raises ValueError, TypeError, binascii and JSON errors here.
    except Exception as exc:
        raise VerificationError(f"the token header cannot be decoded: {exc}") from exc
    if not isinstance(header, dict):
        raise VerificationError("the token header is not a JSON object")
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def _decode(token: str, certs: Mapping[str, str], audience: str) -> dict[str, Any]:
    from google.auth import jwt

    try:
        claims = jwt.decode(  # type: ignore[no-untyped-call]
            token,
            certs=certs,
            audience=audience,
            clock_skew_in_seconds=_DISABLE_LIBRARY_CLOCK,
        )
    # google-auth raises google.auth.exceptions.*, ValueError, TypeError, KeyError,
    # binascii.Error and json errors depending on where the token breaks: all mean "invalid".
    except Exception as exc:
        raise VerificationError(f"the token is not valid: {exc}") from exc
    if not isinstance(claims, dict):
        raise VerificationError("the token payload is not a JSON object")
    return claims
