"""Callback signing under hypothesis: sign-then-verify round-trips; any single-byte change fails."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.signing import Scheme, SignatureError, SignatureMismatch, Signer

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SECRETS = st.text(st.characters(codec="ascii", min_codepoint=33, max_codepoint=126), min_size=8)
BODIES = st.binary(max_size=512)
MESSAGE_IDS = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=40).map(
    lambda s: f"msg_{s}"
)
SCHEMES = st.sampled_from([Scheme.WORKER, Scheme.STANDARD])


def _signer(scheme: Scheme, secrets: list[str]) -> Signer:
    # The Standard Webhooks scheme takes base64 keys; whsec_ marks them so for both schemes.
    import base64

    keys = [f"whsec_{base64.b64encode(s.encode()).decode()}" for s in secrets]
    return Signer(scheme, keys, clock=lambda: NOW)


def _flip(data: bytes, index: int, delta: int) -> bytes:
    changed = bytearray(data)
    changed[index % len(data)] = (changed[index % len(data)] + delta) % 256
    return bytes(changed)


@settings(max_examples=200, deadline=None)
@given(
    scheme=SCHEMES, secrets=st.lists(SECRETS, min_size=1, max_size=3), body=BODIES, mid=MESSAGE_IDS
)
def test_sign_then_verify_round_trips(
    scheme: Scheme, secrets: list[str], body: bytes, mid: str
) -> None:
    """What a signer signs, a signer with the same secrets verifies, naming the newest key."""
    signer = _signer(scheme, secrets)
    headers = signer.sign(body, message_id=mid)
    verified = signer.verify(body, headers)
    assert verified.key_index == 0
    assert verified.timestamp == int(NOW.timestamp())


@settings(max_examples=200, deadline=None)
@given(
    scheme=SCHEMES,
    secret=SECRETS,
    body=BODIES.filter(bool),
    mid=MESSAGE_IDS,
    index=st.integers(0, 10_000),
    delta=st.integers(1, 255),
)
def test_any_single_byte_change_of_the_body_fails(
    *, scheme: Scheme, secret: str, body: bytes, mid: str, index: int, delta: int
) -> None:
    """Changing any one byte of the body makes verification fail with a mismatch."""
    signer = _signer(scheme, [secret])
    headers = signer.sign(body, message_id=mid)
    with pytest.raises(SignatureMismatch):
        signer.verify(_flip(body, index, delta), headers)


@settings(max_examples=200, deadline=None)
@given(
    scheme=SCHEMES,
    secret=SECRETS,
    body=BODIES,
    mid=MESSAGE_IDS,
    index=st.integers(0, 10_000),
    delta=st.integers(1, 255),
)
def test_any_single_byte_change_of_a_header_fails(
    *, scheme: Scheme, secret: str, body: bytes, mid: str, index: int, delta: int
) -> None:
    """Changing any one byte of any signed header value makes verification fail."""
    signer = _signer(scheme, [secret])
    headers = signer.sign(body, message_id=mid)
    name = sorted(headers)[index % len(headers)]
    raw = headers[name].encode()
    position = (index // len(headers)) % len(raw)
    changed = _flip(raw, position, delta).decode("latin-1")
    with pytest.raises(SignatureError):
        signer.verify(body, {**headers, name: changed})


@settings(max_examples=100, deadline=None)
@given(scheme=SCHEMES, secret=SECRETS, other=SECRETS, body=BODIES, mid=MESSAGE_IDS)
def test_another_secret_never_verifies(
    scheme: Scheme, secret: str, other: str, body: bytes, mid: str
) -> None:
    """A signature made with one secret is refused by a signer that lacks it."""
    if secret == other:
        return
    headers = _signer(scheme, [secret]).sign(body, message_id=mid)
    with pytest.raises(SignatureMismatch):
        _signer(scheme, [other]).verify(body, headers)


def test_a_non_canonical_spelling_of_the_signature_is_refused() -> None:
    """Changing only the unused bits of the signature's last base64 digit is refused."""
    import string

    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
    signer = _signer(Scheme.STANDARD, ["secretsecret"])
    headers = signer.sign(b"body", message_id="msg_1")
    signature = headers["webhook-signature"]
    last = alphabet.index(signature[-2])
    respelled = alphabet[(last & ~3) | ((last + 1) & 3)]
    forged = {**headers, "webhook-signature": f"{signature[:-2]}{respelled}="}
    with pytest.raises(SignatureError):
        signer.verify(b"body", forged)
