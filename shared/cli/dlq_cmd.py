"""``opsplane dlq triage|replay|purge``: dead letters from a shell.

    opsplane dlq triage [--json] [--post] [--since T] [--until T] [--job-type J] [--code C]
                        [--kind job|callback]
    opsplane dlq replay [--id ID ...] [--job-type J] [--code C] [--since T] [--until T]
                        [--rate N] [--limit N] [--dry-run]
    opsplane dlq purge  [--id ID ...] [filters] [--dry-run] [--yes]

Works on the store ``OPSPLANE_STORE`` names (and, for replay, the queue
``OPSPLANE_QUEUE`` names). Times are ISO 8601 or ages like ``6h``, ``7d``.
``--post`` writes the triage to the GitHub issue labelled ``opsplane-triage``
(``GITHUB_TOKEN``, ``GITHUB_REPOSITORY``, ``GITHUB_API_URL``). Callback dead
letters are replayed to ``WORKER_CALLBACK_URL`` when it is set.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import TYPE_CHECKING, TextIO

from shared.cli.argtypes import positive_float, positive_int
from shared.cli.runlog_cmd import parse_since

if TYPE_CHECKING:
    from shared.dlq import DlqFilter


def _add_filters(parser: argparse.ArgumentParser, *, ids: bool) -> None:
    if ids:
        parser.add_argument(
            "--id", action="append", default=None, help="this dead letter (repeatable)"
        )
    parser.add_argument("--job-type", default=None, help="only this job type")
    parser.add_argument("--code", default=None, help="only this error code")
    parser.add_argument("--kind", choices=("job", "callback"), default=None)
    parser.add_argument("--since", type=parse_since, default=None, help="ISO 8601 or an age")
    parser.add_argument("--until", type=parse_since, default=None, help="ISO 8601 or an age")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("dlq", help="dead letters: triage, replay, purge")
    commands = parser.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)

    triage = commands.add_parser("triage", help="summarise dead letters (redacted)")
    _add_filters(triage, ids=False)
    triage.add_argument("--json", action="store_true", help="print the summary as JSON")
    triage.add_argument("--post", action="store_true", help="create/update the GitHub issue")
    triage.set_defaults(func=run_triage)

    replay = commands.add_parser("replay", help="re-run dead-lettered runs (once each)")
    _add_filters(replay, ids=True)
    replay.add_argument(
        "--rate", type=positive_float, default=10.0, help="replays per second (default 10)"
    )
    replay.add_argument("--limit", type=positive_int, default=None, help="at most this many")
    replay.add_argument("--dry-run", action="store_true", help="show what would be replayed")
    replay.set_defaults(func=run_replay)

    purge = commands.add_parser("purge", help="delete dead letters (audited)")
    _add_filters(purge, ids=True)
    purge.add_argument("--dry-run", action="store_true", help="show what would be deleted")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.set_defaults(func=run_purge)


def selection_from(args: argparse.Namespace) -> DlqFilter:
    """The dead-letter filter the command-line flags describe."""
    from shared.dlq import DlqFilter, LetterKind

    if args.since and args.until and args.since > args.until:
        raise ValueError("--since must not be after --until")
    return DlqFilter(
        ids=frozenset(getattr(args, "id", None) or ()),
        job_type=args.job_type,
        code=args.code,
        since=args.since,
        until=args.until,
        kinds=frozenset({LetterKind(args.kind)}) if args.kind else frozenset(LetterKind),
    )


def _actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{os.environ.get('OPSPLANE_ACTOR') or user}"


def run_triage(args: argparse.Namespace) -> int:
    from shared import runtime
    from shared.dlq import post_triage, render_markdown, triage

    summary = triage(runtime.store(), selection_from(args))
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, sort_keys=True))
    else:
        print(render_markdown(summary))
    if args.post:
        from shared.github import GitHubClient

        with GitHubClient() as client:
            result = post_triage(client, summary)
        print(f"{result.action} issue #{result.number} {result.url}", file=sys.stderr)
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from shared.dlq import replay
    from shared.dlq.replay import callback_sender_from_env
    from shared.jobs import plane as jobs_plane

    plane = jobs_plane.current()
    sender = callback_sender_from_env(plane)
    with tqdm(desc="replay", unit="letter", file=sys.stderr, disable=False) as bar:

        def set_total(total: int) -> None:
            bar.total = total
            bar.refresh()

        report = replay(
            plane,
            selection_from(args),
            actor=_actor(),
            dry_run=args.dry_run,
            rate=args.rate,
            limit=args.limit,
            progress=lambda _: bar.update(1),
            total_hint=set_total,
            callback_sender=sender,
        )
    print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    if report.error:
        print(f"opsplane: replay stopped: {report.error}", file=sys.stderr)
        return 1
    return 0


def run_purge(args: argparse.Namespace, stdin: TextIO | None = None) -> int:
    from shared import runtime
    from shared.clock import utcnow
    from shared.dlq import purge

    store = runtime.store()
    selection = selection_from(args)
    preview = purge(store, selection, actor=_actor(), dry_run=True)
    count = len(preview.matched)
    if args.dry_run or count == 0:
        print(json.dumps(preview.to_dict(), indent=2, sort_keys=True))
        return 0
    if not args.yes:
        stream = stdin or sys.stdin
        print(f"Delete {count} dead letters? This cannot be undone. [y/N] ", end="", flush=True)
        answer = stream.readline().strip().lower()
        if answer not in ("y", "yes"):
            print("opsplane: nothing deleted", file=sys.stderr)
            return 1
    report = purge(store, selection, actor=_actor(), clock=utcnow)
    print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    return 0
