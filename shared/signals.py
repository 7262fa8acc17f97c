"""Stop a long-running loop on SIGINT/SIGTERM without deadlocking it.

A Python signal handler runs on the main thread between two bytecodes, which
may be inside ``threading.Event.wait()`` while it holds the event's internal
lock. Calling ``event.set()`` right there would wait for that same lock
forever, so the handler hands the ``set()`` to a short-lived thread instead.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def deferred(action: Callable[[], object]) -> Callable[..., None]:
    """A signal handler that runs ``action`` on a new thread, never on the interrupted one."""

    def handler(*_: Any) -> None:
        threading.Thread(target=action, name="signal-stop", daemon=True).start()

    return handler


@contextmanager
def stop_on(stop: threading.Event, *signums: signal.Signals) -> Iterator[None]:
    """Set ``stop`` when one of ``signums`` arrives; the previous handlers come back after."""
    handler = deferred(stop.set)
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
