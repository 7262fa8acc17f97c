"""``opsplane queue stats``: in-flight, queued, running and waiting runs."""

from __future__ import annotations

import argparse

from shared.cli.runs_cmd import add_connection_options, api_call


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("queue", help="task queue statistics")
    commands = parser.add_subparsers(dest="queue_command", metavar="ACTION", required=True)
    stats = commands.add_parser("stats", help="show queue statistics (GET /tasks/health)")
    add_connection_options(stats)
    stats.set_defaults(func=lambda args: api_call(args, "GET", "/tasks/health"))
