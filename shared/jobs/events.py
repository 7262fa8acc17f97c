"""Run events: one per stored state change, handed to the configured notifier.

The executor and the runs API call :func:`notify` after every successful write
that changes a run's status. ``event_id`` is ``<run_id>.<revision>``, unique
per change and stable, so a receiver can drop replays by id.

The default notifier does nothing. Another notifier (for example a signed
callback sender) plugs in by registering a factory in ``NOTIFIER_FACTORIES``
under the name ``OPSPLANE_RUN_NOTIFIER`` selects.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared import logs
from shared.jobs.models import Run, RunStatus
from shared.redaction import redact_data
from shared.settings import Environ, SettingsError

_log = logs.get_logger("opsplane.jobs.events")


@dataclass(frozen=True)
class RunEvent:
    """A run's state change, as receivers see it."""

    event_id: str
    run_id: str
    job_type: str
    status: RunStatus
    attempt: int
    occurred_at: datetime
    error_code: str | None = None
    result_summary: Any = None

    @classmethod
    def from_run(cls, run: Run) -> RunEvent:
        summary = redact_data(run.result) if run.status is RunStatus.SUCCEEDED else None
        if isinstance(summary, dict | list) and len(str(summary)) > 1000:
            summary = {"truncated": True}
        return cls(
            event_id=f"{run.run_id}.{run.revision}",
            run_id=run.run_id,
            job_type=run.job_type,
            status=run.status,
            attempt=len(run.attempts),
            occurred_at=run.updated_at,
            error_code=run.error_code,
            result_summary=summary,
        )


class RunNotifier(Protocol):
    def notify(self, event: RunEvent) -> None: ...


class NullNotifier:
    """Drops every event."""

    def notify(self, event: RunEvent) -> None:
        return None


class RecordingNotifier:
    """Keeps every event in memory (tests, local inspection)."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []

    def notify(self, event: RunEvent) -> None:
        self.events.append(event)


NotifierFactory = Callable[[Environ], RunNotifier]


def _callback_sender(env: Environ) -> RunNotifier:
    from shared.callbacks.sender import sender_from_env  # lazy: callbacks import this module

    return sender_from_env(env)


NOTIFIER_FACTORIES: dict[str, NotifierFactory] = {
    "none": lambda env: NullNotifier(),
    "callbacks": _callback_sender,
}


def notifier_from_env(env: Environ | None = None) -> RunNotifier:
    """The notifier ``OPSPLANE_RUN_NOTIFIER`` names (default ``callbacks`` when
    ``WORKER_CALLBACK_URL`` is set, else ``none``)."""
    env = os.environ if env is None else env
    default = "callbacks" if env.get("WORKER_CALLBACK_URL", "").strip() else "none"
    name = env.get("OPSPLANE_RUN_NOTIFIER", "").strip() or default
    factory = NOTIFIER_FACTORIES.get(name)
    if factory is None:
        raise SettingsError(
            "OPSPLANE_RUN_NOTIFIER",
            f"unknown notifier {name!r}; known: {sorted(NOTIFIER_FACTORIES)}",
        )
    return factory(env)


def notify(notifier: RunNotifier, run: Run) -> None:
    """Hand ``run``'s latest change to ``notifier``; a notifier failure never fails the run."""
    if isinstance(notifier, NullNotifier):
        return  # nothing listens: skip building (and redacting) the event
    try:
        notifier.notify(RunEvent.from_run(run))
    except Exception as exc:  # noqa: BLE001 - the state change is already stored
        _log.warning(
            "run notifier failed",
            extra={"fields": {"run_id": run.run_id, "error": repr(exc)}},
        )
