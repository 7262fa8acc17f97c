"""``opsplane callbacks replay``: deliver callback dead letters again.

    opsplane callbacks replay [--event-id ID ...] [--since ISO8601] [--dry-run]

Works on the store ``OPSPLANE_STORE`` names and sends to ``WORKER_CALLBACK_URL``
with the configured signing secret / OIDC audience, like the executor would.
A progress bar goes to stderr; the report (JSON) to stdout. Exit code 0 when
every selected letter landed, 1 when some failed (they are named) or an
``--event-id`` has no dead letter.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("callbacks", help="callback dead letters")
    commands = parser.add_subparsers(dest="callbacks_command", metavar="ACTION", required=True)
    replay = commands.add_parser("replay", help="deliver callback dead letters again")
    replay.add_argument(
        "--event-id", action="append", default=None, help="only this event (repeatable)"
    )
    replay.add_argument("--since", default=None, help="only letters written at or after (ISO 8601)")
    replay.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    replay.set_defaults(func=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from shared import runtime
    from shared.callbacks import replay
    from shared.callbacks.config import CallbackSettings
    from shared.callbacks.sender import CallbackSender
    from shared.clock import parse_iso

    since = None
    if args.since:
        try:
            since = parse_iso(args.since)
        except ValueError:
            print(f"opsplane: --since is not an ISO 8601 time: {args.since!r}", file=sys.stderr)
            return 2
    settings = CallbackSettings.from_env()
    if not settings.url and not args.dry_run:
        print("opsplane: WORKER_CALLBACK_URL is not set; nowhere to replay to", file=sys.stderr)
        return 2
    store = runtime.store()
    letters, _ = replay.select(store, args.event_id, since)
    sender = CallbackSender(store, settings) if settings.url else None
    with tqdm(total=len(letters), desc="replay", unit="event", file=sys.stderr) as bar:
        if sender is None:  # a dry run without a URL still lists the selection
            report = replay.ReplayReport(True, [letter.event_id for letter in letters])
            bar.update(len(letters))
        else:
            report = replay.replay(
                store,
                sender,
                event_ids=args.event_id,
                since=since,
                dry_run=args.dry_run,
                progress=lambda _: bar.update(1),
            )
    print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    for failure in report.failed:
        print(
            f"failed: {failure['eventId']}: {failure['error']}",
            file=sys.stderr,
        )
    for event_id in report.missing:
        print(f"missing: no dead letter for {event_id}", file=sys.stderr)
    return 0 if report.ok else 1
