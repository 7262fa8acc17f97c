"""``opsplane approvals sync|status``: the approval watcher from a shell.

``sync`` runs one pass now (the store and queue the environment names,
``GITHUB_TOKEN`` / ``GITHUB_REPOSITORY`` / ``GITHUB_API_URL``, approvers from
``OPSPLANE_APPROVERS``), records it in the run log and prints its report;
exit code 1 when GitHub could not be polled. ``status`` prints the last pass.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("approvals", help="approvals on GitHub issues")
    commands = parser.add_subparsers(dest="approvals_command", metavar="ACTION", required=True)
    sync = commands.add_parser("sync", help="open approval issues and apply decisions now")
    sync.set_defaults(func=run_sync_command)
    status = commands.add_parser("status", help="the watcher's last pass")
    status.set_defaults(func=run_status_command)


def run_sync_command(args: argparse.Namespace) -> int:
    from shared.approvals.job import run_sync
    from shared.jobs import plane as jobs_plane

    report = run_sync(jobs_plane.current())
    print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    if not report.ok:
        shown = report.error_message or (report.errors[0]["message"] if report.errors else "")
        print(f"opsplane: approvals sync: {shown}", file=sys.stderr)
        return 1
    return 0


def run_status_command(args: argparse.Namespace) -> int:
    from shared import runtime
    from shared.approvals import last_status

    status = last_status(runtime.store())
    if status is None:
        print("opsplane: the approval watcher has not run yet", file=sys.stderr)
        return 1
    print(json.dumps(status, indent=2, sort_keys=True))
    return 0
