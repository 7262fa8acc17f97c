"""The local stack (``python -m shared.localstack``) as a child process with known tokens.

Shared by the fuzz, load and fault tests: a tmp ``file://`` store (or any
store URL), one token valid both as an API token and as the tasks token, and
callbacks pointed back at the stack itself, so every endpoint is reachable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from tests.servers import RunningServer, free_port
from tests.stack_process import served_stack

TOKEN = "fuzz-token-0123456789"  # one token for both caller kinds, so one header reaches all
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def fuzz_settings(store_url: str, port: int, extra: Mapping[str, str]) -> dict[str, str]:
    """Known tokens, callbacks back to the stack, and a latency target on it."""
    env = {
        "OPSPLANE_STORE": store_url,
        "OPSPLANE_QUEUE": "local://",
        "OPSPLANE_API_TOKENS": f"fuzz={TOKEN}",
        "TASKS_AUTH_TOKEN": TOKEN,
        "WORKER_CALLBACK_URL": f"http://127.0.0.1:{port}/callbacks",
        "WORKER_CALLBACK_SIGNING_SECRET": "fuzz-callback-secret",
        "OPSPLANE_LOG_LEVEL": "WARNING",
        "OPSPLANE_LATENCY_CONFIG": json.dumps(
            {
                "targets": [
                    {
                        "name": "stack-health",
                        "url": f"http://127.0.0.1:{port}/health",
                        "samples": 1,
                        "slo_p95_ms": 1000,
                        "source": "stack",
                    }
                ]
            }
        ),
    }
    env.update(extra)
    return env


@contextmanager
def local_stack(
    store_url: str, extra_env: Mapping[str, str] | None = None
) -> Iterator[RunningServer]:
    """Serve the local stack on a free port until the block ends (SIGTERM, then kill)."""
    port = free_port()
    with served_stack(fuzz_settings(store_url, port, extra_env or {}), port=port) as server:
        yield server
