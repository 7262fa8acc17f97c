"""``make run``: every function at one local base URL, on the embedded defaults.

The stack serves each functions-framework target under the same paths it has
in production (``functions/main.py`` ``TARGETS``), and runs the background
services a deployment gets from Google Cloud: the local task dispatcher
(standing in for Cloud Tasks) and the schedule loop (standing in for Cloud
Scheduler). State lives in ``.opsplane/`` under the repository.

    python -m shared.localstack [--host 127.0.0.1] [--port 8080]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.settings import REPO_ROOT, env_int

SOURCE = str(REPO_ROOT / "functions" / "main.py")

# Embedded defaults; anything already set in the environment wins.
DEV_API_TOKEN = "dev-token"  # noqa: S105 - a documented local-only default
DEV_TASKS_TOKEN = "dev-tasks-token"  # noqa: S105 - a documented local-only default
DEV_CALLBACK_SECRET = "dev-callback-secret"  # noqa: S105 - a documented local-only default

# Background services: (label, "module:function"), each called as fn(stop_event).
BACKGROUND_SERVICES: tuple[tuple[str, str], ...] = (
    ("task dispatcher", "shared.queue.dispatcher:serve"),
    ("schedule loop", "shared.schedule.loop:run_loop"),
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def local_environment(port: int, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables the local stack sets when the user has not."""
    state = REPO_ROOT / ".opsplane"
    defaults = {
        "OPSPLANE_STORE": f"file://{state / 'store'}",
        "OPSPLANE_QUEUE": "local://",
        "OPSPLANE_BASE_URL": f"http://127.0.0.1:{port}",
        "OPSPLANE_API_TOKENS": f"dev={DEV_API_TOKEN}",
        "TASKS_AUTH_TOKEN": DEV_TASKS_TOKEN,
        # The executor reports every state change to the stack's own callbacks function.
        "WORKER_CALLBACK_URL": f"http://127.0.0.1:{port}/callbacks",
        "WORKER_CALLBACK_SIGNING_SECRET": DEV_CALLBACK_SECRET,
        # The local scheduler stands in for Cloud Scheduler: reports and the sweeper on.
        "OPSPLANE_SCHEDULE_CONFIG": str(REPO_ROOT / "config" / "schedule.local.json"),
    }
    return {key: value for key, value in defaults.items() if not environ.get(key)}


@dataclass(frozen=True)
class Mount:
    prefix: str
    target: str
    app: WsgiApp


class PathDispatcher:
    """Send each request to the function owning the longest matching path prefix."""

    def __init__(self, mounts: list[Mount]) -> None:
        self._mounts = sorted(mounts, key=lambda mount: len(mount.prefix), reverse=True)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        for mount in self._mounts:
            if path == mount.prefix or path.startswith(mount.prefix.rstrip("/") + "/"):
                return mount.app(environ, start_response)
        body = json.dumps(
            {
                "error": "not_found",
                "message": f"no function serves {path}",
                "endpoints": sorted(mount.prefix for mount in self._mounts),
            }
        ).encode()
        start_response(
            "404 NOT FOUND",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


def build_app(targets: Mapping[str, tuple[str, ...]]) -> PathDispatcher:
    """One WSGI app that serves every target through functions-framework."""
    from functions_framework import create_app

    mounts: list[Mount] = []
    for target, prefixes in targets.items():
        app = create_app(target, SOURCE)  # type: ignore[no-untyped-call]
        mounts.extend(Mount(prefix, target, app) for prefix in prefixes)
    return PathDispatcher(mounts)


def _load_targets() -> dict[str, tuple[str, ...]]:
    sys.path.insert(0, str(REPO_ROOT))
    from functions.main import TARGETS

    return dict(TARGETS)


def _start_background(stop: threading.Event) -> list[threading.Thread]:
    threads = []
    for label, ref in BACKGROUND_SERVICES:
        module_name, _, function_name = ref.partition(":")
        service = getattr(importlib.import_module(module_name), function_name)
        thread = threading.Thread(target=service, args=(stop,), name=label, daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def _print_banner(
    base_url: str, targets: Mapping[str, tuple[str, ...]], env: Mapping[str, str]
) -> None:
    width = max(len(target) for target in targets)
    print(f"opsplane local stack on {base_url}")
    print(f"  store: {env['OPSPLANE_STORE']}   queue: {env['OPSPLANE_QUEUE']}")
    print(f"  {'function':<{width}}  endpoint")
    for target, prefixes in targets.items():
        for prefix in prefixes:
            print(f"  {target:<{width}}  {base_url}{prefix}")
    if env.get("OPSPLANE_API_TOKENS", "").endswith(DEV_API_TOKEN):
        print(f"  API token: {DEV_API_TOKEN}   (Authorization: Bearer {DEV_API_TOKEN})")
    for label, _ in BACKGROUND_SERVICES:
        print(f"  background: {label}")
    print("Ctrl-C stops the stack.", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.localstack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=env_int(os.environ, "OPSPLANE_PORT", 8080))
    args = parser.parse_args(argv)

    os.environ.update(local_environment(args.port, os.environ))
    Path(REPO_ROOT / ".opsplane").mkdir(exist_ok=True)
    from werkzeug.serving import make_server

    from shared import logs, runtime
    from shared.signals import deferred

    runtime.reset()
    logs.configure()
    targets = _load_targets()
    server = make_server(args.host, args.port, build_app(targets), threaded=True)
    stop = threading.Event()

    def shut_down() -> None:
        stop.set()
        server.shutdown()  # waits for serve_forever to return: never on the main thread

    signal.signal(signal.SIGINT, deferred(shut_down))
    signal.signal(signal.SIGTERM, deferred(shut_down))
    background = _start_background(stop)
    _print_banner(f"http://{args.host}:{args.port}", targets, os.environ)
    server.serve_forever()
    for thread in background:
        thread.join(timeout=10)
    server.server_close()
    print("opsplane local stack stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
