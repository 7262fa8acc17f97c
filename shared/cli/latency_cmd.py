"""``opsplane latency sample`` and ``opsplane latency rollup``.

``sample`` runs the latency job once (the same run ``POST /latency/sample``
makes) and prints the run as JSON; it exits 0 when the run was ok or skipped
because another run holds the lock, 1 when alerts could not be delivered.
``rollup`` prints the stored hourly rollups as a table, CSV or JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta

from shared.clock import isoformat, utcnow


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not 1 <= value <= 3650:
        raise argparse.ArgumentTypeError(f"expected 1 to 3650 days, got {value}")
    return value


def _since(text: str) -> str:
    from shared.latency.rollup import parse_since

    try:
        parse_since(text, utcnow())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("latency", help="latency sampling, rollups and SLO alerts")
    commands = parser.add_subparsers(dest="latency_command", metavar="COMMAND", required=True)
    sample = commands.add_parser("sample", help="sample every configured target once")
    sample.add_argument(
        "--dry-run-alert",
        action="store_true",
        help="store alert payloads under latency_alerts/<job_id>.json instead of sending them",
    )
    sample.add_argument("--raw-retention-days", type=_days, help="keep raw samples N days")
    sample.add_argument("--rollup-retention-days", type=_days, help="keep rollups N days")
    sample.set_defaults(func=run_sample)
    rollup = commands.add_parser("rollup", help="show hourly rollups")
    rollup.add_argument(
        "--since", type=_since, default="24h", help="ISO 8601 time or an age like 6h, 7d"
    )
    rollup.add_argument("--source", help="only this source")
    rollup.add_argument("--format", choices=("table", "csv", "json"), default="table")
    rollup.set_defaults(func=run_rollup)


def run_sample(args: argparse.Namespace) -> int:
    from shared import runtime
    from shared.latency import load_config, run_latency_job
    from shared.runlog import RunStatus

    config = load_config(base_url=runtime.settings().base_url)
    run = run_latency_job(
        runtime.store(),
        config,
        dry_run_alert=args.dry_run_alert,
        raw_retention_days=args.raw_retention_days,
        rollup_retention_days=args.rollup_retention_days,
    )
    sys.stdout.write(json.dumps(run.to_json(), sort_keys=True, indent=2) + "\n")
    if run.status is RunStatus.SKIPPED:
        sys.stderr.write(f"opsplane: {run.message}\n")
    return 1 if run.status is RunStatus.ERROR else 0


def run_rollup(args: argparse.Namespace) -> int:
    from shared import runtime
    from shared.latency import read_rollups, to_csv
    from shared.latency.rollup import parse_since

    now = utcnow()
    since = parse_since(args.since, now) if args.since else now - timedelta(hours=24)
    if args.format == "csv" and not args.source:
        sys.stderr.write("opsplane: a CSV export is for one source: add --source\n")
        return 2
    found = read_rollups(runtime.store(), source=args.source, since=since)
    out = sys.stdout
    if args.format == "csv":
        out.write(to_csv(found))
        return 0
    if args.format == "json":
        out.write(json.dumps([r.to_json() for r in found], sort_keys=True, indent=2) + "\n")
        return 0
    if not found:
        out.write(f"no rollups since {isoformat(since)}\n")
        return 0
    out.write(
        f"{'HOUR (UTC)':<21} {'SOURCE':<20} {'COUNT':>6} {'P50':>9} {'P95':>9} "
        f"{'P99':>9} {'MAX':>9} {'ERRORS':>7}  BREACH\n"
    )
    for r in found:
        out.write(
            f"{isoformat(r.hour):<21} {r.source:<20} {r.count:>6} {_ms(r.p50_ms)} "
            f"{_ms(r.p95_ms)} {_ms(r.p99_ms)} {_ms(r.max_ms)} {r.error_rate:>6.1%}  "
            f"{'yes' if r.breach_flag else 'no'}\n"
        )
    return 0


def _ms(value: float | None) -> str:
    return f"{'-':>9}" if value is None else f"{value:>7.1f}ms"
