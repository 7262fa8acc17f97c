"""HMAC-SHA256 signatures for callbacks, in two schemes.

The worker scheme (opsplane's own)::

    x-worker-timestamp: 1700000000                 integer seconds since the epoch
    x-worker-signature: <64 lowercase hex digits>  HMAC-SHA256(key, b"<timestamp>." + body)

The Standard Webhooks scheme (https://www.standardwebhooks.com), interoperable
with its reference libraries::

    webhook-id:        msg_...
    webhook-timestamp: 1614265330
    webhook-signature: v1,<base64 HMAC-SHA256(key, b"<id>.<timestamp>." + body)> [v1,...]

Keys: a secret spelled ``whsec_<base64>`` is the base64-decoded bytes (the
Standard Webhooks convention, used by both schemes); the Standard Webhooks
scheme also base64-decodes a secret without the prefix, as its reference
libraries do; any other worker secret is its UTF-8 bytes. Several secrets may
be active during a rotation: ``sign`` uses the first (the newest), ``verify``
accepts a signature made with any of them.

Every way a request can fail verification raises one exception family::

    SignatureError
    ├── MissingHeader          a required header is absent or empty
    ├── MalformedSignature     unparsable timestamp, bad or non-canonical hex/base64,
    │                          no v1 signature, wrong length
    ├── TimestampOutOfRange    outside the tolerance window
    │   ├── StaleTimestamp         too old (a replay, or a very slow sender)
    │   └── FutureTimestamp        too far ahead (a skewed or forged clock)
    └── SignatureMismatch      well formed, but no active secret produced it

Comparisons are constant-time (``hmac.compare_digest``); the clock is injected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.clock import Clock, utcnow

DEFAULT_TOLERANCE_SEC = 300
WHSEC_PREFIX = "whsec_"

WORKER_SIGNATURE = "x-worker-signature"
WORKER_TIMESTAMP = "x-worker-timestamp"
WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"

_DIGITS = re.compile(r"[0-9]{1,15}")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_MAX_ID_LENGTH = 256


class SignatureError(Exception):
    """A request's signature headers do not prove it came from a holder of the secret."""


class MissingHeader(SignatureError):
    """A required signature header is absent or empty."""


class MalformedSignature(SignatureError):
    """A header is present but cannot be parsed."""


class TimestampOutOfRange(SignatureError):
    """The signed timestamp is outside the tolerance window."""


class StaleTimestamp(TimestampOutOfRange):
    """The signed timestamp is older than the tolerance allows."""


class FutureTimestamp(TimestampOutOfRange):
    """The signed timestamp is further in the future than the tolerance allows."""


class SignatureMismatch(SignatureError):
    """No active secret produced the presented signature."""


class InvalidSecret(ValueError):
    """A configured secret cannot be used as a key (configuration, not a request, error)."""


class Scheme(StrEnum):
    """The header layouts a callback can be signed with."""

    WORKER = "worker"
    STANDARD = "standard"


@dataclass(frozen=True)
class VerifiedMessage:
    """What a successful verification establishes."""

    scheme: Scheme
    timestamp: int
    message_id: str | None
    key_index: int  # which active secret matched: 0 is the newest


def decode_secret(secret: str | bytes, scheme: Scheme) -> bytes:
    """The HMAC key a configured secret stands for (see the module docstring)."""
    if isinstance(secret, bytes):
        key = secret
    elif secret.startswith(WHSEC_PREFIX) or scheme is Scheme.STANDARD:
        encoded = secret.removeprefix(WHSEC_PREFIX)
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidSecret("a whsec_ secret must be base64 after the prefix") from None
    else:
        key = secret.encode()
    if not key:
        raise InvalidSecret("a signing secret must not be empty")
    return key


def _hmac(key: bytes, *parts: bytes) -> bytes:
    return hmac.new(key, b".".join(parts), hashlib.sha256).digest()


def _header(headers: Mapping[str, str], name: str) -> str:
    # Header names are case-insensitive; callers hand us whatever mapping they have.
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if value is None or not value.strip():
        raise MissingHeader(f"the {name} header is missing")
    return value.strip()


def _parse_timestamp(raw: str, name: str) -> int:
    if not _DIGITS.fullmatch(raw):
        raise MalformedSignature(f"the {name} header must be integer seconds since the epoch")
    return int(raw)


def _check_window(timestamp: int, now: datetime, tolerance: int) -> None:
    now_sec = int(now.timestamp())
    if now_sec - timestamp > tolerance:
        raise StaleTimestamp(
            f"the signature timestamp is {now_sec - timestamp}s old; the tolerance is {tolerance}s"
        )
    if timestamp - now_sec > tolerance:
        raise FutureTimestamp(
            f"the signature timestamp is {timestamp - now_sec}s in the future; "
            f"the tolerance is {tolerance}s"
        )


class Signer:
    """Signs and verifies one scheme with a set of active secrets (newest first)."""

    def __init__(
        self,
        scheme: Scheme | str,
        secrets: Sequence[str | bytes] | str | bytes,
        *,
        tolerance: int = DEFAULT_TOLERANCE_SEC,
        clock: Clock = utcnow,
    ) -> None:
        self.scheme = Scheme(scheme)
        if isinstance(secrets, str | bytes):
            secrets = [secrets]
        if not secrets:
            raise InvalidSecret("at least one signing secret is required")
        if tolerance < 0:
            raise ValueError("the tolerance must not be negative")
        self._keys = tuple(decode_secret(secret, self.scheme) for secret in secrets)
        self.tolerance = tolerance
        self._clock = clock

    def sign(
        self, body: bytes, *, timestamp: int | None = None, message_id: str | None = None
    ) -> dict[str, str]:
        """The headers that authenticate ``body``, signed with the newest secret.

        ``timestamp`` defaults to the clock's now; the Standard Webhooks scheme
        needs ``message_id`` (the callback's event id).
        """
        ts = int(self._clock().timestamp()) if timestamp is None else int(timestamp)
        stamp = str(ts).encode()
        if self.scheme is Scheme.WORKER:
            digest = _hmac(self._keys[0], stamp, body).hex()
            return {WORKER_TIMESTAMP: str(ts), WORKER_SIGNATURE: digest}
        if not message_id:
            raise ValueError("the Standard Webhooks scheme signs a message id; none was given")
        digest_b64 = base64.b64encode(_hmac(self._keys[0], message_id.encode(), stamp, body))
        return {
            WEBHOOK_ID: message_id,
            WEBHOOK_TIMESTAMP: str(ts),
            WEBHOOK_SIGNATURE: f"v1,{digest_b64.decode()}",
        }

    def verify(self, body: bytes, headers: Mapping[str, str]) -> VerifiedMessage:
        """Check the headers against ``body``; raises a SignatureError subclass when not valid."""
        if self.scheme is Scheme.WORKER:
            return self._verify_worker(body, headers)
        return self._verify_standard(body, headers)

    def _verify_worker(self, body: bytes, headers: Mapping[str, str]) -> VerifiedMessage:
        raw_signature = _header(headers, WORKER_SIGNATURE)
        timestamp = _parse_timestamp(_header(headers, WORKER_TIMESTAMP), WORKER_TIMESTAMP)
        if not _HEX_SHA256.fullmatch(raw_signature):
            raise MalformedSignature(
                f"the {WORKER_SIGNATURE} header must be 64 lowercase hex digits"
            )
        presented = bytes.fromhex(raw_signature)
        # The window is checked before the MAC, but only a valid MAC is accepted either way:
        # a stale request is reported as stale so an operator can tell clock skew from forgery.
        _check_window(timestamp, self._clock(), self.tolerance)
        stamp = str(timestamp).encode()
        for index, key in enumerate(self._keys):
            if hmac.compare_digest(_hmac(key, stamp, body), presented):
                return VerifiedMessage(Scheme.WORKER, timestamp, None, index)
        raise SignatureMismatch("the signature does not match the body and timestamp")

    def _verify_standard(self, body: bytes, headers: Mapping[str, str]) -> VerifiedMessage:
        message_id = _header(headers, WEBHOOK_ID)
        timestamp = _parse_timestamp(_header(headers, WEBHOOK_TIMESTAMP), WEBHOOK_TIMESTAMP)
        presented = _parse_v1_signatures(_header(headers, WEBHOOK_SIGNATURE))
        if len(message_id) > _MAX_ID_LENGTH:
            raise MalformedSignature(f"the {WEBHOOK_ID} header is longer than {_MAX_ID_LENGTH}")
        _check_window(timestamp, self._clock(), self.tolerance)
        stamp = str(timestamp).encode()
        for index, key in enumerate(self._keys):
            expected = _hmac(key, message_id.encode(), stamp, body)
            # Every candidate is compared, so timing does not reveal which one matched.
            matches = [hmac.compare_digest(expected, candidate) for candidate in presented]
            if any(matches):
                return VerifiedMessage(Scheme.STANDARD, timestamp, message_id, index)
        raise SignatureMismatch("no v1 signature matches the id, timestamp and body")


def _parse_v1_signatures(raw: str) -> list[bytes]:
    """The decoded v1 signatures of a ``webhook-signature`` header.

    Entries with another version tag (``v1a`` for asymmetric keys, future
    versions) are skipped, as the reference libraries do; a header without any
    v1 entry, or a v1 entry that is not 32 bytes of base64, is malformed.
    """
    signatures: list[bytes] = []
    for entry in raw.split():
        version, sep, encoded = entry.partition(",")
        if not sep or not version:
            raise MalformedSignature("each webhook-signature entry must be 'version,signature'")
        if version != "v1":
            continue
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedSignature("a v1 signature is not valid base64") from None
        if len(decoded) != hashlib.sha256().digest_size:
            raise MalformedSignature("a v1 signature must be 32 bytes (HMAC-SHA256)")
        # base64 ignores the unused low bits of the last digit; only the canonical
        # spelling is accepted (as the reference libraries, which compare strings).
        if base64.b64encode(decoded).decode() != encoded:
            raise MalformedSignature("a v1 signature is not canonical base64")
        signatures.append(decoded)
    if not signatures:
        raise MalformedSignature("the webhook-signature header carries no v1 signature")
    return signatures


def parse_secrets(raw: str) -> tuple[str, ...]:
    """Secrets from one configuration value: comma- or space-separated, newest first."""
    return tuple(part for part in re.split(r"[,\s]+", raw.strip()) if part)
