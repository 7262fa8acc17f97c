"""``opsplane runlog tail``: the latest records of the automation run log."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import deque
from datetime import datetime, timedelta

from shared.cli.argtypes import positive_int
from shared.clock import Clock, isoformat, parse_iso, utcnow

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, clock: Clock = utcnow) -> datetime:
    """``30m``, ``6h``, ``7d``, ``2w`` before now, or an ISO 8601 time."""
    match = _RELATIVE.match(text.strip())
    if match:
        amount, unit = match.groups()
        return clock() - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        return parse_iso(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: use an ISO 8601 time or an age like 30m, 6h, 7d, 2w"
        ) from None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("runlog", help="the automation run log")
    commands = parser.add_subparsers(dest="runlog_command", metavar="COMMAND", required=True)
    tail = commands.add_parser("tail", help="show the latest run records, oldest first")
    tail.add_argument("--job", help="only this job")
    tail.add_argument(
        "--since",
        type=parse_since,
        default=None,
        help="ISO 8601 time or an age like 30m, 6h, 7d (default: 24h)",
    )
    tail.add_argument("--until", type=parse_since, default=None, help="ISO 8601 time or an age")
    tail.add_argument(
        "--limit", type=positive_int, default=50, help="at most this many (default 50)"
    )
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.set_defaults(func=run_tail)


def run_tail(args: argparse.Namespace) -> int:
    from shared import runtime
    from shared.runlog import RunLog

    since = args.since if args.since is not None else utcnow() - timedelta(hours=24)
    latest = deque(
        RunLog(runtime.store()).read(since=since, until=args.until, job=args.job),
        maxlen=args.limit,
    )
    out = sys.stdout
    if args.json:
        for record in latest:
            out.write(json.dumps(record.to_json(), sort_keys=True) + "\n")
        return 0
    if not latest:
        out.write(f"no run records since {isoformat(since)}\n")
        return 0
    out.write(f"{'JOB ID':<48} {'STATUS':<8} {'DURATION':>10} {'ATTEMPTS':>8}  ERROR\n")
    for record in latest:
        error = ""
        if record.error_code or record.error_message:
            error = f"{record.error_code or ''}: {record.error_message or ''}".strip(": ")
        out.write(
            f"{record.job_id:<48} {record.status.value:<8} {record.duration_ms:>8}ms "
            f"{record.attempts:>8}  {error}\n"
        )
    return 0
