"""Who is calling: API callers (run owners) and task deliverers.

API tokens come from ``OPSPLANE_API_TOKENS``, a comma-separated list whose
entries are any of::

    name=token            the caller is "name"
    name=sha256:<hex>     the same, with only the token's SHA-256 stored
    token | sha256:<hex>  unnamed: the caller is "token-<first 8 hex of the hash>"

Every presented token is hashed and compared with every entry in constant time
(``hmac.compare_digest``), so neither the match nor its position leaks timing.
A Google OIDC ID token is accepted too when ``OPSPLANE_API_OIDC_AUDIENCE`` is
set; its email, which must be in ``OPSPLANE_API_OIDC_ALLOWED_EMAILS``, becomes
the caller.

Task deliveries (``/tasks``, and later the replay endpoints) accept
``TASKS_AUTH_TOKEN`` as a bearer, or a Google OIDC ID token for
``TASKS_OIDC_AUDIENCE`` whose email is in ``TASKS_OIDC_ALLOWED_EMAILS``.
Cloud Tasks headers are never identity.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from shared.http.edge import Request
from shared.http.errors import ServiceUnavailable, Unauthorized
from shared.settings import Environ, SettingsError, env_list, env_optional

_SHA256 = "sha256:"


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: ``name`` is what runs record as the owner."""

    name: str
    method: str  # "token" or "oidc"


@dataclass(frozen=True)
class TokenEntry:
    name: str
    digest: bytes


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def parse_api_tokens(raw: str) -> tuple[TokenEntry, ...]:
    """Parse ``OPSPLANE_API_TOKENS``; SettingsError on a malformed entry."""
    entries = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        name, sep, secret = part.partition("=")
        if not sep:
            name, secret = "", part
        name, secret = name.strip(), secret.strip()
        if sep and not name:
            raise SettingsError("OPSPLANE_API_TOKENS", "an entry has an empty name before '='")
        if secret.startswith(_SHA256):
            hex_digest = secret[len(_SHA256) :]
            try:
                digest = bytes.fromhex(hex_digest)
            except ValueError:
                digest = b""
            if len(digest) != 32:
                raise SettingsError(
                    "OPSPLANE_API_TOKENS", "a sha256: entry needs 64 hexadecimal characters"
                )
        elif secret:
            digest = _digest(secret)
        else:
            raise SettingsError("OPSPLANE_API_TOKENS", "an entry has an empty token")
        entries.append(TokenEntry(name or f"token-{digest.hex()[:8]}", digest))
    return tuple(entries)


def match_token(token: str, entries: Collection[TokenEntry]) -> str | None:
    """The name of the entry ``token`` matches, comparing with every entry."""
    presented = _digest(token)
    found: str | None = None
    for entry in entries:
        if hmac.compare_digest(presented, entry.digest) and found is None:
            found = entry.name
    return found


class IdentityVerifier(Protocol):
    def verify(self, token: str) -> Any: ...


@functools.cache
def _oidc_verifier(
    audience: str, allowed: tuple[str, ...], certs_url: str | None
) -> IdentityVerifier:
    # Imported only when OIDC is configured: token-only deployments skip google-auth.
    from shared.oidc import GOOGLE_CERTS_URL, OidcVerifier

    return OidcVerifier(
        audience=audience, allowed_emails=allowed, certs_url=certs_url or GOOGLE_CERTS_URL
    )


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def _verify_oidc(token: str, audience: str, allowed: tuple[str, ...]) -> str:
    """The verified email of an OIDC ID token; Unauthorized otherwise.

    ``OPSPLANE_OIDC_CERTS_URL`` overrides Google's certificate endpoint (tests).
    """
    certs_url = env_optional(os.environ, "OPSPLANE_OIDC_CERTS_URL")
    identity = verify_id_token(
        _oidc_verifier(audience, allowed, certs_url),
        token,
        rejected="the OIDC token was rejected",
        code="invalid_credentials",
    )
    return str(identity.email)


def verify_id_token(verifier: IdentityVerifier, token: str, *, rejected: str, code: str) -> Any:
    """``verifier.verify(token)`` with its failures as HTTP errors.

    Certificates that cannot be fetched are our outage (503, retry later);
    any other failure is the caller's (401 ``code``, "<rejected>: <reason>").
    """
    from shared.oidc import CertsUnavailable, VerificationError

    try:
        return verifier.verify(token)
    except CertsUnavailable:
        raise ServiceUnavailable(
            "cannot fetch the OIDC signing certificates; retry later", retry_after=5
        ) from None
    except VerificationError as exc:
        raise Unauthorized(f"{rejected}: {exc}", code=code) from None


OidcCheck = Callable[[str, str, tuple[str, ...]], str]


def _bearer(request: Request) -> str:
    token = request.bearer_token()
    if token is None:
        raise Unauthorized("send Authorization: Bearer <token>", code="missing_credentials")
    return token


def _oidc_caller(
    token: str, verify_oidc: OidcCheck, *, audience: str | None, allowed: tuple[str, ...]
) -> Caller | None:
    """The OIDC caller when an audience is configured and the token is a JWT, else None."""
    if not (audience and _looks_like_jwt(token)):
        return None
    return Caller(verify_oidc(token, audience, allowed), "oidc")


def authenticate_api(
    request: Request, env: Environ | None = None, *, verify_oidc: OidcCheck = _verify_oidc
) -> Caller:
    """The API caller; Unauthorized (401) for a missing, unknown or invalid token."""
    env = os.environ if env is None else env
    token = _bearer(request)
    # Each variable is read by its full name here, where deployment checks can see it.
    caller = _oidc_caller(
        token,
        verify_oidc,
        audience=env_optional(env, "OPSPLANE_API_OIDC_AUDIENCE"),
        allowed=env_list(env, "OPSPLANE_API_OIDC_ALLOWED_EMAILS"),
    )
    if caller is not None:
        return caller
    name = match_token(token, _api_tokens(env.get("OPSPLANE_API_TOKENS", "")))
    if name is None:
        raise Unauthorized("the token is not valid for this API", code="invalid_credentials")
    return Caller(name, "token")


@functools.lru_cache(maxsize=8)
def _api_tokens(raw: str) -> tuple[TokenEntry, ...]:
    return parse_api_tokens(raw)


def authenticate_tasks(
    request: Request, env: Environ | None = None, *, verify_oidc: OidcCheck = _verify_oidc
) -> Caller:
    """The task deliverer (the queue); Unauthorized (401) otherwise."""
    env = os.environ if env is None else env
    token = _bearer(request)
    caller = _oidc_caller(
        token,
        verify_oidc,
        audience=env_optional(env, "TASKS_OIDC_AUDIENCE"),
        allowed=env_list(env, "TASKS_OIDC_ALLOWED_EMAILS"),
    )
    if caller is not None:
        return caller
    expected = env_optional(env, "TASKS_AUTH_TOKEN")
    if expected and hmac.compare_digest(_digest(token), _digest(expected)):
        return Caller("tasks", "token")
    raise Unauthorized("the token is not valid for task delivery", code="invalid_credentials")


def authenticate_api_or_tasks(request: Request, env: Environ | None = None) -> Caller:
    """Either kind of caller (read-only endpoints such as queue stats)."""
    try:
        return authenticate_tasks(request, env)
    except Unauthorized:
        return authenticate_api(request, env)
