"""``opsplane sign`` and ``opsplane verify``: callback signatures by hand.

    opsplane sign --scheme standard --secret whsec_... --id msg_1 --timestamp 1700000000 < body
    opsplane verify --scheme worker --secret S --timestamp T --signature SIG [--now EPOCH] < body

The body is read from stdin as raw bytes (no newline is added or stripped).
``verify`` exits 0 when the signature is valid, 1 when it is not (the reason on
stderr); ``--now`` defaults to the current time.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from shared import signing
from shared.clock import utcnow


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sign = subparsers.add_parser("sign", help="print the signature headers for a body on stdin")
    _common(sign)
    sign.set_defaults(func=run_sign)

    verify = subparsers.add_parser("verify", help="check a signature over a body on stdin")
    _common(verify)
    verify.add_argument("--signature", required=True, help="the signature header's value")
    verify.add_argument("--now", type=int, help="verify as if it were this epoch second")
    verify.add_argument(
        "--tolerance",
        type=int,
        default=signing.DEFAULT_TOLERANCE_SEC,
        help="accepted clock difference in seconds (default %(default)s)",
    )
    verify.set_defaults(func=run_verify)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scheme", choices=[s.value for s in signing.Scheme], required=True)
    parser.add_argument(
        "--secret",
        action="append",
        required=True,
        help="a signing secret; repeat for rotation (the first is the newest)",
    )
    parser.add_argument("--id", dest="message_id", help="the message id (standard scheme)")
    parser.add_argument("--timestamp", type=int, required=True, help="epoch seconds")


def _signer(
    args: argparse.Namespace, tolerance: int = signing.DEFAULT_TOLERANCE_SEC
) -> signing.Signer:
    now = getattr(args, "now", None)
    clock = utcnow if now is None else (lambda: datetime.fromtimestamp(now, UTC))
    return signing.Signer(args.scheme, args.secret, tolerance=tolerance, clock=clock)


def run_sign(args: argparse.Namespace) -> int:
    if args.scheme == signing.Scheme.STANDARD and not args.message_id:
        print("opsplane sign: --id is required for the standard scheme", file=sys.stderr)
        return 2
    body = sys.stdin.buffer.read()
    headers = _signer(args).sign(body, timestamp=args.timestamp, message_id=args.message_id)
    for name, value in headers.items():
        print(f"{name}: {value}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    if args.tolerance < 0:
        print("opsplane verify: --tolerance must not be negative", file=sys.stderr)
        return 2
    body = sys.stdin.buffer.read()
    if args.scheme == signing.Scheme.WORKER:
        headers = {
            signing.WORKER_TIMESTAMP: str(args.timestamp),
            signing.WORKER_SIGNATURE: args.signature,
        }
    else:
        headers = {
            signing.WEBHOOK_ID: args.message_id or "",
            signing.WEBHOOK_TIMESTAMP: str(args.timestamp),
            signing.WEBHOOK_SIGNATURE: args.signature,
        }
    try:
        verified = _signer(args, args.tolerance).verify(body, headers)
    except signing.SignatureError as exc:
        print(f"invalid: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"valid (secret #{verified.key_index + 1})", file=sys.stderr)
    return 0
