"""The metrics snapshot and alert states in Prometheus' text exposition format (0.0.4)."""

from __future__ import annotations

import math

from shared.ops.alerts import AlertState, AlertStatus
from shared.ops.metrics import MetricsSnapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_HELP = {
    "heartbeat_stale_ratio": "RUNNING runs whose lease expired without a heartbeat / RUNNING runs",
    "callback_failed_ratio": "callback dead letters / callback events, in the window",
    "retry_success_rate": "retried runs that succeeded / retried runs finished, in the window",
    "run_success_rate": "succeeded runs / finished runs, in the window",
}


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "NaN"
    return repr(float(value))


def render(snapshot: MetricsSnapshot, alerts: list[AlertStatus]) -> str:
    """The exposition text; ratios without data are NaN."""
    lines: list[str] = []

    def family(name: str, help_text: str, samples: list[tuple[str, float | None]]) -> None:
        lines.append(f"# HELP opsplane_{name} {help_text}")
        lines.append(f"# TYPE opsplane_{name} gauge")
        lines.extend(f"opsplane_{name}{labels} {_number(value)}" for labels, value in samples)

    for metric, value in snapshot.ratios().items():
        family(metric, _HELP[metric], [("", value)])
    family(
        "runs",
        "runs per status",
        [(f'{{status="{status}"}}', count) for status, count in snapshot.runs_by_status.items()],
    )
    family(
        "stale_running_runs", "RUNNING runs without a live lease", [("", snapshot.stale_running)]
    )
    family(
        "dead_letters",
        "dead letters per kind",
        [(f'{{kind="{kind}"}}', count) for kind, count in snapshot.dead_letters.items()],
    )
    family(
        "alert_state",
        "1 for the alert's current state (ok, pending, firing, no_data)",
        [
            (f'{{alert="{status.rule.name}",state="{state.value}"}}', float(status.state is state))
            for status in alerts
            for state in AlertState
        ],
    )
    return "\n".join(lines) + "\n"
