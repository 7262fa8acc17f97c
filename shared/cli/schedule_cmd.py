"""``opsplane schedule status | run | loop``: the schedule runner from the command line."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any, TextIO

from shared.clock import isoformat, utcnow
from shared.signals import stop_on


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("schedule", help="scheduled ops jobs")
    commands = parser.add_subparsers(dest="schedule_command", metavar="COMMAND", required=True)

    status = commands.add_parser("status", help="each job's schedule, last run and next run")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=run_status)

    run = commands.add_parser("run", help="run what is due now (or one job)")
    run.add_argument("--job", help="only this job")
    run.add_argument("--force", action="store_true", help="run now even if not due or disabled")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.set_defaults(func=run_run)

    loop = commands.add_parser("loop", help="run due jobs every minute until Ctrl-C")
    loop.add_argument(
        "--interval", type=float, default=60.0, help="seconds between ticks (default 60)"
    )
    loop.set_defaults(func=run_loop_command)


def _local(text: str | None, zone_name: str) -> str:
    if not text:
        return "-"
    from zoneinfo import ZoneInfo

    from shared.clock import parse_iso

    return f"{parse_iso(text).astimezone(ZoneInfo(zone_name)):%Y-%m-%d %H:%M}"


def run_status(args: argparse.Namespace) -> int:
    from shared.schedule import default_runner

    runner = default_runner()
    now = utcnow()
    jobs = [status.to_json() for status in runner.status(now)]
    config = runner.config
    out = sys.stdout
    if args.json:
        body = {
            "now": isoformat(now),
            "enabled": config.enabled,
            "timezone": config.timezone,
            "source": config.source,
            "jobs": jobs,
        }
        out.write(json.dumps(body, indent=2) + "\n")
        return 0
    state_word = "enabled" if config.enabled else "disabled (set enabled: true to run on schedule)"
    out.write(f"schedule {state_word}; times in {config.timezone}; config from {config.source}\n")
    out.write(
        f"{'JOB':<30} {'SCHEDULE':<26} {'ON':<4} {'LAST RUN':<17} {'STATUS':<8} "
        f"{'FAILS':>5} {'RUNS':>5}  NEXT RUN\n"
    )
    for job in jobs:
        state = job["state"] or {}
        on = "yes" if job["config"]["enabled"] else "no"
        if not job["registered"]:
            on = "n/a"
        out.write(
            f"{job['job']:<30} {job['schedule']:<26} {on:<4} "
            f"{_local(state.get('lastRunAt'), config.timezone):<17} "
            f"{state.get('lastStatus') or '-':<8} {state.get('consecutiveFailures', 0):>5} "
            f"{state.get('runCount', 0):>5}  "
            f"{_local(job['nextRunAt'], config.timezone)}{'  (due)' if job['due'] else ''}\n"
        )
        if state.get("lastError") and state.get("lastStatus") == "fail":
            out.write(f"{'':<30} last error: {state['lastError']}\n")
    return 0


def _print_outcomes(outcomes: list[dict[str, Any]], out: TextIO) -> None:
    for outcome in outcomes:
        line = f"{outcome['job']}: {outcome['status']}"
        if outcome.get("period"):
            line += f" ({'forced ' if outcome['forced'] else ''}{outcome['period']})"
        if outcome.get("jobId"):
            line += f" {outcome['durationMs']}ms, run log {outcome['jobId']}"
        if outcome.get("errorCode"):
            line += f" - {outcome['errorCode']}: {outcome.get('errorMessage') or ''}"
        elif outcome.get("message"):
            line += f" - {outcome['message']}"
        out.write(line + "\n")


def run_run(args: argparse.Namespace) -> int:
    from shared.schedule import OutcomeStatus, UnknownJob, default_runner

    runner = default_runner()
    now = utcnow()
    try:
        outcomes = runner.run_once(now, force=args.force, only=args.job)
    except UnknownJob as exc:
        sys.stderr.write(f"opsplane: error: {exc}\n")
        return 2
    rendered = [outcome.to_json() for outcome in outcomes]
    if args.json:
        sys.stdout.write(json.dumps({"now": isoformat(now), "ran": rendered}, indent=2) + "\n")
    elif not outcomes:
        reason = "" if runner.config.enabled or args.force else " (the schedule is disabled)"
        sys.stdout.write(f"nothing due{reason}; --force runs a job now\n")
    else:
        _print_outcomes(rendered, sys.stdout)
    return 1 if any(o.status is OutcomeStatus.ERROR for o in outcomes) else 0


def run_loop_command(args: argparse.Namespace) -> int:
    from shared.schedule import JobOutcome
    from shared.schedule.loop import run_loop

    if args.interval <= 0:
        sys.stderr.write("opsplane: error: --interval must be positive\n")
        return 2
    stop = threading.Event()
    sys.stdout.write(f"schedule loop: ticking every {args.interval:g}s; Ctrl-C stops\n")
    sys.stdout.flush()

    def report(outcomes: list[JobOutcome]) -> None:
        _print_outcomes([o.to_json() for o in outcomes], sys.stdout)
        sys.stdout.flush()

    # SIGTERM (a container or supervisor stopping us) ends the loop between ticks.
    try:
        with stop_on(stop, signal.SIGTERM):
            run_loop(stop, interval_seconds=args.interval, on_tick=report)
    except KeyboardInterrupt:
        stop.set()
    sys.stdout.write("schedule loop stopped\n")
    return 0
