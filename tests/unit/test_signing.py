"""Callback signatures: the Standard Webhooks vector, the worker scheme, rotation and bad input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from datetime import UTC, datetime

import pytest

from shared import cli, signing
from shared.signing import Scheme, Signer

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER_SECRET = "whsec_" + base64.b64encode(b"another key of 24 bytes!").decode()


def at(epoch: int):
    return lambda: datetime.fromtimestamp(epoch, UTC)


def vector_headers(**overrides: str | None) -> dict[str, str]:
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": VECTOR_SIG,
    }
    for key, value in overrides.items():
        name = key.replace("_", "-")
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    return headers


def standard(secret: str | list[str] = VECTOR_SECRET, now: int = VECTOR_TS) -> Signer:
    return Signer(Scheme.STANDARD, secret, clock=at(now))


def test_public_standard_webhooks_vector_verifies() -> None:
    """The reference libraries' shared vector verifies, and signing reproduces it exactly."""
    verified = standard().verify(VECTOR_BODY, vector_headers())
    assert verified.message_id == VECTOR_ID
    assert verified.timestamp == VECTOR_TS
    assert standard().sign(VECTOR_BODY, timestamp=VECTOR_TS, message_id=VECTOR_ID) == (
        vector_headers()
    )


def test_header_names_are_case_insensitive() -> None:
    """Headers as a framework hands them over (Title-Case) verify the same."""
    headers = {k.title(): v for k, v in vector_headers().items()}
    assert standard().verify(VECTOR_BODY, headers).message_id == VECTOR_ID


VALID_B64_OTHER = base64.b64encode(b"\x00" * 32).decode()


@pytest.mark.parametrize(
    ("body", "headers", "now", "error"),
    [
        pytest.param(
            b'{"test": 2432232315}',
            vector_headers(),
            VECTOR_TS,
            signing.SignatureMismatch,
            id="tampered-body",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_id="msg_other"),
            VECTOR_TS,
            signing.SignatureMismatch,
            id="tampered-id",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_timestamp=str(VECTOR_TS + 1)),
            VECTOR_TS,
            signing.SignatureMismatch,
            id="tampered-timestamp",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(),
            VECTOR_TS + 301,
            signing.StaleTimestamp,
            id="stale",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(),
            VECTOR_TS - 301,
            signing.FutureTimestamp,
            id="future",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_id=None),
            VECTOR_TS,
            signing.MissingHeader,
            id="missing-id",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_timestamp=None),
            VECTOR_TS,
            signing.MissingHeader,
            id="missing-timestamp",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_signature=None),
            VECTOR_TS,
            signing.MissingHeader,
            id="missing-signature",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_signature="  "),
            VECTOR_TS,
            signing.MissingHeader,
            id="blank-signature",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_signature="v1,not*base64!"),
            VECTOR_TS,
            signing.MalformedSignature,
            id="bad-base64",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_signature="v1,g0hM9SsE+OTPJTGt/tmIKtSyZ"),
            VECTOR_TS,
            signing.MalformedSignature,
            id="bad-base64-padding",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_signature="v2," + VECTOR_SIG[3:]),
            VECTOR_TS,
            signing.MalformedSignature,
            id="wrong-version-tag",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_signature=VECTOR_SIG[3:]),
            VECTOR_TS,
            signing.MalformedSignature,
            id="no-version-tag",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_signature=",g0hM9SsE"),
            VECTOR_TS,
            signing.MalformedSignature,
            id="empty-version-tag",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(
                webhook_signature="v1,"
                + base64.b64encode(base64.b64decode(VECTOR_SIG[3:])[:16]).decode()
            ),
            VECTOR_TS,
            signing.MalformedSignature,
            id="truncated-signature",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_signature=VECTOR_SIG[:-2] + "F="),
            VECTOR_TS,
            signing.MalformedSignature,
            id="non-canonical-base64",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_signature="v1," + VALID_B64_OTHER),
            VECTOR_TS,
            signing.SignatureMismatch,
            id="well-formed-wrong-signature",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_signature=f"v1,{VALID_B64_OTHER} v1,{VALID_B64_OTHER}"),
            VECTOR_TS,
            signing.SignatureMismatch,
            id="several-signatures-none-valid",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_timestamp="1614265330.5"),
            VECTOR_TS,
            signing.MalformedSignature,
            id="fractional-timestamp",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_timestamp="-1614265330"),
            VECTOR_TS,
            signing.MalformedSignature,
            id="negative-timestamp",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_timestamp="yesterday"),
            VECTOR_TS,
            signing.MalformedSignature,
            id="word-timestamp",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_timestamp="9" * 40),
            VECTOR_TS,
            signing.MalformedSignature,
            id="huge-timestamp",
        ),
        pytest.param(
            VECTOR_BODY,
            vector_headers(webhook_id="m" * 300),
            VECTOR_TS,
            signing.MalformedSignature,
            id="oversized-id",
        ),
    ],
)
def test_bad_standard_requests_raise_the_one_error(body, headers, now, error) -> None:
    """Every tampered, stale, future, missing or malformed case is a SignatureError subclass."""
    with pytest.raises(error) as caught:
        standard(now=now).verify(body, headers)
    assert isinstance(caught.value, signing.SignatureError)


def test_wrong_key_is_a_mismatch() -> None:
    """The vector checked with another secret fails."""
    with pytest.raises(signing.SignatureMismatch):
        standard(OTHER_SECRET).verify(VECTOR_BODY, vector_headers())


def test_tolerance_edges_are_inclusive() -> None:
    """Exactly the tolerance old or ahead still verifies; one second more does not."""
    Signer(Scheme.STANDARD, VECTOR_SECRET, tolerance=60, clock=at(VECTOR_TS + 60)).verify(
        VECTOR_BODY, vector_headers()
    )
    Signer(Scheme.STANDARD, VECTOR_SECRET, tolerance=60, clock=at(VECTOR_TS - 60)).verify(
        VECTOR_BODY, vector_headers()
    )
    with pytest.raises(signing.StaleTimestamp):
        Signer(Scheme.STANDARD, VECTOR_SECRET, tolerance=60, clock=at(VECTOR_TS + 61)).verify(
            VECTOR_BODY, vector_headers()
        )


@pytest.mark.parametrize(
    "signature_header",
    [
        pytest.param(f"v1,{VALID_B64_OTHER} {VECTOR_SIG}", id="valid-second"),
        pytest.param(f"{VECTOR_SIG} v1,{VALID_B64_OTHER}", id="valid-first"),
        pytest.param(f"v1a,c29tZWFzeW1tZXRyaWM= {VECTOR_SIG}", id="unknown-version-skipped"),
    ],
)
def test_a_list_with_one_valid_signature_verifies(signature_header: str) -> None:
    """Like the reference libraries, any valid v1 entry in the list is enough."""
    headers = vector_headers(webhook_signature=signature_header)
    assert standard().verify(VECTOR_BODY, headers).message_id == VECTOR_ID


def test_rotation_signs_with_newest_and_verifies_with_any() -> None:
    """With two active secrets, sign uses the first; a message signed by either verifies."""
    rotating = standard([OTHER_SECRET, VECTOR_SECRET])
    assert rotating.verify(VECTOR_BODY, vector_headers()).key_index == 1
    signed = rotating.sign(VECTOR_BODY, timestamp=VECTOR_TS, message_id=VECTOR_ID)
    assert standard(OTHER_SECRET).verify(VECTOR_BODY, signed).key_index == 0
    with pytest.raises(signing.SignatureMismatch):
        standard(VECTOR_SECRET).verify(VECTOR_BODY, signed)


def test_worker_scheme_signs_timestamp_dot_body_as_hex() -> None:
    """x-worker-signature is hex HMAC-SHA256 over b"<timestamp>." + body with the raw secret."""
    signer = Signer(Scheme.WORKER, "s3cret", clock=at(1_700_000_000))
    headers = signer.sign(b'{"eventId":"e1"}')
    expected = hmac.new(b"s3cret", b'1700000000.{"eventId":"e1"}', hashlib.sha256).hexdigest()
    assert headers == {"x-worker-timestamp": "1700000000", "x-worker-signature": expected}
    assert signer.verify(b'{"eventId":"e1"}', headers).timestamp == 1_700_000_000


def worker_headers(timestamp: int = 1_700_000_000, body: bytes = b"{}") -> dict[str, str]:
    return Signer(Scheme.WORKER, "s3cret").sign(body, timestamp=timestamp)


GOOD = worker_headers()


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        pytest.param(b"{ }", GOOD, signing.SignatureMismatch, id="tampered-body"),
        pytest.param(
            b"{}",
            {**GOOD, "x-worker-timestamp": "1700000001"},
            signing.SignatureMismatch,
            id="tampered-timestamp",
        ),
        pytest.param(
            b"{}",
            {"x-worker-timestamp": "1700000000"},
            signing.MissingHeader,
            id="missing-signature",
        ),
        pytest.param(
            b"{}",
            {"x-worker-signature": GOOD["x-worker-signature"]},
            signing.MissingHeader,
            id="missing-timestamp",
        ),
        pytest.param(
            b"{}",
            {**GOOD, "x-worker-signature": GOOD["x-worker-signature"][:40]},
            signing.MalformedSignature,
            id="truncated-signature",
        ),
        pytest.param(
            b"{}",
            {**GOOD, "x-worker-signature": GOOD["x-worker-signature"].upper()},
            signing.MalformedSignature,
            id="uppercase-hex",
        ),
        pytest.param(
            b"{}",
            {**GOOD, "x-worker-signature": "z" * 64},
            signing.MalformedSignature,
            id="not-hex",
        ),
        pytest.param(
            b"{}",
            {**GOOD, "x-worker-signature": "sha256=" + GOOD["x-worker-signature"]},
            signing.MalformedSignature,
            id="prefixed",
        ),
        pytest.param(
            b"{}",
            {**GOOD, "x-worker-timestamp": "1.7e9"},
            signing.MalformedSignature,
            id="float-timestamp",
        ),
        pytest.param(
            b"{}",
            worker_headers(1_700_000_000 - 301),
            signing.StaleTimestamp,
            id="stale",
        ),
        pytest.param(
            b"{}",
            worker_headers(1_700_000_000 + 301),
            signing.FutureTimestamp,
            id="future",
        ),
    ],
)
def test_bad_worker_requests_raise_the_one_error(body, headers, error) -> None:
    """The worker scheme fails closed the same way on every kind of bad input."""
    with pytest.raises(error) as caught:
        Signer(Scheme.WORKER, "s3cret", clock=at(1_700_000_000)).verify(body, headers)
    assert isinstance(caught.value, signing.SignatureError)


def test_worker_wrong_key_is_a_mismatch() -> None:
    """A worker signature made with another secret fails."""
    with pytest.raises(signing.SignatureMismatch):
        Signer(Scheme.WORKER, "other", clock=at(1_700_000_000)).verify(b"{}", GOOD)


@pytest.mark.parametrize(
    ("scheme", "secret"),
    [
        pytest.param(Scheme.STANDARD, "whsec_***", id="whsec-not-base64"),
        pytest.param(Scheme.STANDARD, "plain text", id="standard-not-base64"),
        pytest.param(Scheme.WORKER, "", id="empty"),
        pytest.param(Scheme.WORKER, "whsec_", id="whsec-empty"),
    ],
)
def test_unusable_secrets_are_rejected_at_construction(scheme: Scheme, secret: str) -> None:
    """A secret that cannot be a key fails when the signer is built, not per request."""
    with pytest.raises(signing.InvalidSecret):
        Signer(scheme, secret)


def test_parse_secrets_splits_on_commas_and_spaces() -> None:
    """A configured list keeps its order (newest first) and drops blanks."""
    assert signing.parse_secrets(" new, old  older ") == ("new", "old", "older")


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run the opsplane CLI with ``body`` on stdin; (exit code, stdout, stderr)."""

    def run(argv: list[str], body: bytes) -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(body)))
        code = cli.main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_sign_prints_the_vector_headers(run_cli) -> None:
    """opsplane sign --scheme standard reproduces the public vector's headers."""
    code, out, _ = run_cli(
        [
            "sign",
            "--scheme",
            "standard",
            "--secret",
            VECTOR_SECRET,
            "--id",
            VECTOR_ID,
            "--timestamp",
            str(VECTOR_TS),
        ],
        VECTOR_BODY,
    )
    assert code == 0
    assert out.splitlines() == [
        f"webhook-id: {VECTOR_ID}",
        f"webhook-timestamp: {VECTOR_TS}",
        f"webhook-signature: {VECTOR_SIG}",
    ]


@pytest.mark.parametrize(
    ("extra", "body", "code", "reason"),
    [
        pytest.param(["--now", str(VECTOR_TS)], VECTOR_BODY, 0, "valid", id="valid"),
        pytest.param(["--now", str(VECTOR_TS)], b"{}", 1, "SignatureMismatch", id="tampered"),
        pytest.param(["--now", str(VECTOR_TS + 400)], VECTOR_BODY, 1, "StaleTimestamp", id="stale"),
        pytest.param(
            ["--now", str(VECTOR_TS + 400), "--tolerance", "500"],
            VECTOR_BODY,
            0,
            "valid",
            id="wider-tolerance",
        ),
    ],
)
def test_cli_verify_exit_code_and_reason(run_cli, extra, body, code, reason) -> None:
    """opsplane verify exits 0 when valid and 1 with the reason on stderr when not."""
    argv = [
        "verify",
        "--scheme",
        "standard",
        "--secret",
        VECTOR_SECRET,
        "--id",
        VECTOR_ID,
        "--timestamp",
        str(VECTOR_TS),
        "--signature",
        VECTOR_SIG,
        *extra,
    ]
    got, _, err = run_cli(argv, body)
    assert got == code
    assert reason in err


def test_cli_worker_round_trip(run_cli) -> None:
    """A worker signature printed by sign is accepted by verify, and rejected for another body."""
    _, out, _ = run_cli(
        ["sign", "--scheme", "worker", "--secret", "s3cret", "--timestamp", "1700000000"],
        b"payload",
    )
    signature = dict(line.split(": ", 1) for line in out.splitlines())["x-worker-signature"]
    argv = [
        "verify",
        "--scheme",
        "worker",
        "--secret",
        "s3cret",
        "--timestamp",
        "1700000000",
        "--signature",
        signature,
        "--now",
        "1700000000",
    ]
    assert run_cli(argv, b"payload")[0] == 0
    assert run_cli(argv, b"payload!")[0] == 1
