"""``opsplane report daily|weekly|digest``: make a report now, print it, optionally post it.

    opsplane report daily                       Markdown on stdout
    opsplane report weekly --format json        the canonical JSON payload
    opsplane report daily --locale ja --post    keep in history, post to GitHub and the webhook
    opsplane report daily --post --dry-run      keep in history, store the payload unsent

``--post`` posts to GitHub when ``GITHUB_REPOSITORY`` is set (a comment on the
schedule's ``dashboardIssue``, or a new issue without one) and to the job's
``webhook`` from the schedule configuration (``OPSPLANE_WEBHOOK_SECRET`` signs it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from shared.clock import utcnow

_JOB_OF = {
    "daily": "daily_observability_report",
    "weekly": "weekly_observability_report",
    "digest": "weekly_improvement_digest",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("report", help="observability reports and the digest")
    commands = parser.add_subparsers(dest="report_kind", metavar="KIND", required=True)
    helps = {
        "daily": "the last 24 hours",
        "weekly": "the last 7 days, with a chart",
        "digest": "the weekly improvement digest: top causes of failures",
    }
    for kind, text in helps.items():
        command = commands.add_parser(kind, help=text)
        command.add_argument("--format", choices=("md", "json"), default="md")
        command.add_argument("--locale", choices=("en", "ja"), default=None)
        command.add_argument(
            "--post", action="store_true", help="keep in history and post to GitHub / webhook"
        )
        command.add_argument(
            "--dry-run", action="store_true", help="with --post: store the payload, send nothing"
        )
        command.add_argument(
            "--include-current-hour",
            action="store_true",
            help="count the current, still open hour too (instead of the oldest one)",
        )
        command.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from shared import runtime
    from shared.reports import make_report
    from shared.reports.deliver import DeliveryFailed, Target, deliver
    from shared.reports.jobs import report_locale
    from shared.schedule import load_config

    config = load_config()
    now = utcnow()
    store = runtime.store()
    locale = args.locale or report_locale()
    bundle = make_report(
        store,
        args.report_kind,
        now,
        locale=locale,
        timezone=config.timezone,
        live=args.include_current_hour,
    )
    if args.format == "json":
        sys.stdout.write(json.dumps(bundle.payload, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(bundle.markdown)
    if not args.post:
        return 0
    job = config.jobs.get(_JOB_OF[args.report_kind])
    target = Target(
        github=bool(os.environ.get("GITHUB_REPOSITORY", "").strip()),
        dashboard_issue=config.dashboard_issue,
        webhook=job.webhook if job else None,
        dry_run=args.dry_run,
    )
    try:
        delivered = deliver(store, bundle, target, now=now)
    except DeliveryFailed as exc:
        print(f"opsplane: report kept but not posted: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    for name, value in sorted(delivered.artefacts.items()):
        print(f"{name}: {value}", file=sys.stderr)
    return 0
