"""The callbacks plane's settings, from the environment.

Sender (the executor's side):

* ``WORKER_CALLBACK_URL``: where run events are POSTed (unset: no callbacks).
* ``WORKER_CALLBACK_SIGNING_SECRET``: turns HMAC signing on; several secrets,
  comma- or space-separated, newest first, are accepted during a rotation.
* ``WORKER_CALLBACK_SIGNATURE_SCHEME``: ``worker`` (default) or ``standard``.
* ``WORKER_CALLBACK_OIDC_AUDIENCE``: turns OIDC on: the sender attaches an ID
  token for this audience, the receiver requires one.
* ``WORKER_CALLBACK_MAX_ATTEMPTS`` (5), ``WORKER_CALLBACK_BACKOFF_MS`` (500),
  ``WORKER_CALLBACK_MAX_BACKOFF_MS`` (30000), ``WORKER_CALLBACK_TIMEOUT_MS`` (5000).
* ``WORKER_CALLBACK_BREAKER_FAILURES`` (3, 0 = off) / ``WORKER_CALLBACK_BREAKER_COOLDOWN_MS``
  (30000): after that many undeliverable events in a row, events go straight to the
  dead-letter store for the cool-down, so a dead receiver does not slow every run down.

Receiver (the callbacks function):

* ``WORKER_CALLBACK_SIGNATURE_TOLERANCE_SEC`` (300): accepted clock difference.
* ``WORKER_CALLBACK_OIDC_ALLOWED_EMAILS``: callers allowed by OIDC ("*": any
  verified email; empty: nobody); ``OPSPLANE_OIDC_CERTS_URL`` overrides
  Google's certificate endpoint.

When both HMAC and OIDC are configured, a callback must pass both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.settings import Environ, SettingsError, env_int, env_list, env_optional, env_str
from shared.signing import (
    DEFAULT_TOLERANCE_SEC,
    InvalidSecret,
    Scheme,
    decode_secret,
    parse_secrets,
)


@dataclass(frozen=True)
class CallbackSettings:
    url: str | None = None
    secrets: tuple[str, ...] = ()
    scheme: Scheme = Scheme.WORKER
    tolerance_sec: int = DEFAULT_TOLERANCE_SEC
    oidc_audience: str | None = None
    oidc_allowed_emails: tuple[str, ...] = ()
    certs_url: str | None = None
    max_attempts: int = 5
    backoff_ms: int = 500
    max_backoff_ms: int = 30_000
    timeout_ms: int = 5000
    breaker_failures: int = 3
    breaker_cooldown_ms: int = 30_000

    @property
    def signing(self) -> bool:
        return bool(self.secrets)

    @property
    def oidc(self) -> bool:
        return self.oidc_audience is not None

    @classmethod
    def from_env(cls, env: Environ | None = None) -> CallbackSettings:
        """Resolve and validate; raises SettingsError naming the bad variable."""
        env = os.environ if env is None else env
        raw_scheme = env_str(env, "WORKER_CALLBACK_SIGNATURE_SCHEME", "worker").lower()
        try:
            scheme = Scheme(raw_scheme)
        except ValueError:
            raise SettingsError(
                "WORKER_CALLBACK_SIGNATURE_SCHEME",
                f"must be worker or standard, got {raw_scheme!r}",
            ) from None
        secrets = parse_secrets(env.get("WORKER_CALLBACK_SIGNING_SECRET", ""))
        for secret in secrets:
            try:
                decode_secret(secret, scheme)
            except InvalidSecret as exc:
                raise SettingsError("WORKER_CALLBACK_SIGNING_SECRET", str(exc)) from None
        url = env_optional(env, "WORKER_CALLBACK_URL")
        if url is not None and not url.startswith(("http://", "https://")):
            raise SettingsError("WORKER_CALLBACK_URL", "must be an http:// or https:// URL")
        return cls(
            url=url,
            secrets=secrets,
            scheme=scheme,
            tolerance_sec=env_int(
                env, "WORKER_CALLBACK_SIGNATURE_TOLERANCE_SEC", DEFAULT_TOLERANCE_SEC, minimum=1
            ),
            oidc_audience=env_optional(env, "WORKER_CALLBACK_OIDC_AUDIENCE"),
            oidc_allowed_emails=env_list(env, "WORKER_CALLBACK_OIDC_ALLOWED_EMAILS"),
            certs_url=env_optional(env, "OPSPLANE_OIDC_CERTS_URL"),
            max_attempts=env_int(env, "WORKER_CALLBACK_MAX_ATTEMPTS", 5, minimum=1, maximum=20),
            backoff_ms=env_int(env, "WORKER_CALLBACK_BACKOFF_MS", 500, minimum=0),
            max_backoff_ms=env_int(env, "WORKER_CALLBACK_MAX_BACKOFF_MS", 30_000, minimum=0),
            timeout_ms=env_int(env, "WORKER_CALLBACK_TIMEOUT_MS", 5000, minimum=10),
            breaker_failures=env_int(env, "WORKER_CALLBACK_BREAKER_FAILURES", 3, minimum=0),
            breaker_cooldown_ms=env_int(
                env, "WORKER_CALLBACK_BREAKER_COOLDOWN_MS", 30_000, minimum=0
            ),
        )
