"""``opsplane demo``: a realistic batch through the local stack, then the report and triage.

Run it after ``make run``, in another shell::

    opsplane demo                      # http://127.0.0.1:8080, token dev-token
    opsplane demo --locale ja

It submits through the runs API a mixed batch: quick successes, slower ones,
flaky runs that fail once and recover on the retry, a downstream that keeps
timing out until its retries run out, requests that fail for good, and one run
that waits for approval. It shows progress while they run, then prints the
daily report (including the current hour) and the dead-letter triage.
The report and the triage read the store the stack uses (``OPSPLANE_STORE``,
by default the same ``.opsplane/store`` as ``make run``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from shared.clock import utcnow

if TYPE_CHECKING:
    import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
DEV_TOKEN = "dev-token"  # noqa: S105 - the local stack's documented default
_SETTLED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "WAITING_APPROVAL"})


@dataclass(frozen=True)
class Planned:
    """One run of the demo batch."""

    label: str
    body: dict[str, Any]


def demo_batch() -> list[Planned]:
    """The mixed batch: what a newcomer should see succeed, retry, fail and wait."""
    batch = [Planned(f"quick job #{n}", {"job_type": "noop", "params": {}}) for n in range(6)]
    batch += [
        Planned(f"slower job #{n}", {"job_type": "sleep", "params": {"ms": 300 + 200 * n}})
        for n in range(3)
    ]
    batch += [
        Planned(
            f"flaky downstream #{n} (recovers on retry)",
            {
                "job_type": "fail",
                "params": {
                    "code": "temporary_failure",
                    "message": "upstream answered 503, try again",
                    "succeed_on_attempt": 2,
                },
            },
        )
        for n in range(3)
    ]
    batch += [
        Planned(
            f"invalid request #{n} (fails for good)",
            {
                "job_type": "fail",
                "params": {
                    "code": "bad_request",
                    "message": f"customer {1000 + n} has no billing address",
                    "retryable": False,
                },
            },
        )
        for n in range(2)
    ]
    batch.append(
        Planned(
            "downstream that keeps timing out (retries run out)",
            {
                "job_type": "fail",
                "params": {"code": "timeout", "message": "GET inventory timed out after 30s"},
            },
        )
    )
    batch.append(
        Planned(
            "deploy that waits for approval",
            {"job_type": "noop", "params": {"target": "production"}, "requires_approval": True},
        )
    )
    return batch


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run a mixed batch on the local stack, then show the report and triage"
    )
    parser.add_argument("--url", default=None, help="base URL (OPSPLANE_URL / OPSPLANE_BASE_URL)")
    parser.add_argument("--token", default=None, help="API token (default dev-token)")
    parser.add_argument("--locale", choices=("en", "ja"), default="en")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the batch (120)"
    )
    parser.set_defaults(func=run_demo)


def _base_url(args: argparse.Namespace) -> str:
    env = os.environ
    url = args.url or env.get("OPSPLANE_URL") or env.get("OPSPLANE_BASE_URL") or DEFAULT_URL
    return str(url).rstrip("/")


def run_demo(args: argparse.Namespace, out: TextIO | None = None) -> int:
    import httpx

    out = out or sys.stdout
    base = _base_url(args)
    token = args.token or os.environ.get("OPSPLANE_API_TOKEN") or DEV_TOKEN
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=15.0
    ) as client:
        try:
            submitted = _submit(client, out)
        except httpx.TransportError as exc:
            print(
                f"opsplane demo: cannot reach {base} ({type(exc).__name__}); "
                "start the local stack with `make run` first",
                file=sys.stderr,
            )
            return 1
        if submitted is None:
            return 1
        settled = _watch(client, submitted, args.timeout, out)
    _print_report(args.locale, out)
    _print_triage(out)
    return 0 if settled else 1


def _submit(client: httpx.Client, out: TextIO) -> dict[str, str] | None:
    print(f"Submitting a mixed batch to {client.base_url}/runs ...", file=out)
    submitted: dict[str, str] = {}
    for planned in demo_batch():
        response = client.post("/runs", json=planned.body)
        if response.status_code not in (200, 202):
            print(
                f"opsplane demo: POST /runs answered {response.status_code}: {response.text}",
                file=sys.stderr,
            )
            return None
        run_id = str(response.json()["run_id"])
        submitted[run_id] = planned.label
        print(f"  {run_id}  {planned.label}", file=out)
    return submitted


def _watch(client: httpx.Client, runs: dict[str, str], timeout: float, out: TextIO) -> bool:
    """Poll until every run is final or waiting approval; print progress as it changes."""
    started = time.monotonic()
    status: dict[str, str] = dict.fromkeys(runs, "QUEUED")
    attempts: dict[str, int] = dict.fromkeys(runs, 0)
    last_line = ""
    print("\nRunning (Ctrl-C stops waiting) ...", file=out)
    while True:
        for run_id in [r for r, s in status.items() if s not in _SETTLED]:
            response = client.get(f"/runs/{run_id}")
            if response.status_code == 200:
                doc = response.json()
                status[run_id] = str(doc["status"])
                attempts[run_id] = int(doc.get("attempt_count", 0))
        counts = Counter(status.values())
        retries = sum(max(0, n - 1) for n in attempts.values())
        elapsed = time.monotonic() - started
        line = (
            f"  [{elapsed:5.1f}s] succeeded {counts['SUCCEEDED']:>2}  failed {counts['FAILED']:>2}"
            f"  waiting approval {counts['WAITING_APPROVAL']}"
            f"  running/queued {counts['RUNNING'] + counts['QUEUED']:>2}  retries so far {retries}"
        )
        if line.split("]", 1)[1] != last_line.split("]", 1)[-1]:
            print(line, file=out, flush=True)
            last_line = line
        if all(s in _SETTLED for s in status.values()):
            print(f"  all {len(runs)} runs settled in {elapsed:.1f}s", file=out)
            return True
        if elapsed > timeout:
            waiting = [runs[r] for r, s in status.items() if s not in _SETTLED]
            print(f"  still unfinished after {timeout:.0f}s: {', '.join(waiting)}", file=out)
            return False
        time.sleep(0.5)


def _print_report(locale: str, out: TextIO) -> None:
    from shared import runtime
    from shared.reports import make_report
    from shared.schedule import load_config

    timezone = load_config().timezone
    bundle = make_report(
        runtime.store(), "daily", utcnow(), locale=locale, timezone=timezone, live=True
    )
    print("\n" + bundle.markdown, file=out)


def _print_triage(out: TextIO) -> None:
    from shared import runtime

    store = runtime.store()
    try:
        from shared.dlq import render_markdown, triage
    except ImportError:
        jobs = sum(1 for _ in store.list("dlq/jobs/"))
        callbacks = sum(1 for _ in store.list("dlq/callbacks/"))
        print(f"Dead letters: {jobs} jobs, {callbacks} callbacks", file=out)
        return
    print(render_markdown(triage(store)), file=out)
