"""``opsplane runs submit|get|list|approve|reject|cancel|retry``: the runs API from a shell.

The API is at ``--url`` (``OPSPLANE_BASE_URL``, default http://127.0.0.1:8080)
and the token comes from ``--token`` or ``OPSPLANE_API_TOKEN``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8080"


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=None, help="base URL of the API (OPSPLANE_BASE_URL)")
    parser.add_argument("--token", default=None, help="API token (OPSPLANE_API_TOKEN)")


def api_call(
    args: argparse.Namespace,
    method: str,
    path: str,
    *,
    body: Any = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    """Call the API, print the JSON answer; exit code 0 on 2xx, 1 otherwise."""
    import httpx

    base = (args.url or os.environ.get("OPSPLANE_BASE_URL") or DEFAULT_URL).rstrip("/")
    token = args.token or os.environ.get("OPSPLANE_API_TOKEN", "")
    sent = {"Authorization": f"Bearer {token}", **(headers or {})}
    response = httpx.request(
        method, base + path, json=body, params=params, headers=sent, timeout=30.0
    )
    try:
        shown = json.dumps(response.json(), indent=2, sort_keys=True)
    except ValueError:
        shown = response.text
    stream = sys.stdout if response.is_success else sys.stderr
    print(shown, file=stream)
    return 0 if response.is_success else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("runs", help="submit and manage runs")
    commands = parser.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    submit = commands.add_parser("submit", help="submit a run")
    submit.add_argument("job_type")
    submit.add_argument("--params", default="{}", help="JSON object of parameters")
    submit.add_argument("--priority", type=int, default=None)
    submit.add_argument("--requires-approval", action="store_true")
    submit.add_argument("--idempotency-key", default=None)
    add_connection_options(submit)
    submit.set_defaults(func=_submit)

    get = commands.add_parser("get", help="show a run")
    get.add_argument("run_id")
    add_connection_options(get)
    get.set_defaults(func=lambda a: api_call(a, "GET", f"/runs/{a.run_id}"))

    listing = commands.add_parser("list", help="list runs, oldest first")
    listing.add_argument("--status", default=None)
    listing.add_argument("--job-type", default=None)
    listing.add_argument("--since", default=None, help="ISO 8601 time")
    listing.add_argument("--cursor", default=None)
    listing.add_argument("--limit", type=int, default=None)
    add_connection_options(listing)
    listing.set_defaults(func=_list)

    for action in ("approve", "reject", "cancel", "retry"):
        command = commands.add_parser(action, help=f"{action} a run")
        command.add_argument("run_id")
        add_connection_options(command)
        command.set_defaults(
            func=lambda a, action=action: api_call(a, "POST", f"/runs/{a.run_id}/{action}")
        )


def _submit(args: argparse.Namespace) -> int:
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        print(f"opsplane: --params is not valid JSON: {exc}", file=sys.stderr)
        return 2
    body: dict[str, Any] = {"job_type": args.job_type, "params": params}
    if args.priority is not None:
        body["priority"] = args.priority
    if args.requires_approval:
        body["requires_approval"] = True
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    return api_call(args, "POST", "/runs", body=body, headers=headers)


def _list(args: argparse.Namespace) -> int:
    query = {
        key: str(value)
        for key, value in {
            "status": args.status,
            "job_type": args.job_type,
            "since": args.since,
            "cursor": args.cursor,
            "limit": args.limit,
        }.items()
        if value is not None
    }
    return api_call(args, "GET", "/runs", params=query)
