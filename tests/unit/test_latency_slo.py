"""SLO evaluation: consecutive-breach states and multi-window burn-rate alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.latency.slo import (
    BurnLevel,
    RunObservation,
    SloState,
    SourceSlo,
    all_sources,
    burn_rate,
    evaluate,
    load,
    record_run,
)
from shared.storage.memory import MemoryStore

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
EVERY = timedelta(minutes=15)
OBJECTIVE = 0.99  # a 1% error budget


def observation(at: datetime, *, breached: bool = False, bad: int = 0) -> RunObservation:
    return RunObservation(
        at=at,
        total=100,
        errors=0,
        bad=bad,
        p95_ms=500.0 if breached else 50.0,
        threshold_ms=100.0,
    )


def run_series(
    breaches: list[bool], reminder: timedelta | None = None
) -> tuple[SourceSlo, list[list[str]]]:
    state = SourceSlo("api")
    alerts: list[list[str]] = []
    for i, breached in enumerate(breaches):
        state, raised = evaluate(
            state,
            observation(START + i * EVERY, breached=breached),
            objective=0.5,
            reminder=reminder,
        )
        alerts.append([e.state for e in raised if e.kind == "consecutive"])
    return state, alerts


@pytest.mark.parametrize(
    ("breaches", "expected"),
    [
        pytest.param([True], [[]], id="one-breach-is-not-yet-a-warning"),
        pytest.param([True, True], [[], ["warning"]], id="two-warn"),
        pytest.param(
            [True, True, True, True, True],
            [[], ["warning"], ["critical"], [], []],
            id="critical-once",
        ),
        pytest.param(
            [True, True, True, False, False],
            [[], ["warning"], ["critical"], ["resolved"], []],
            id="resolved-once",
        ),
        pytest.param([True, False, True, False], [[], [], [], []], id="flapping-never-warns"),
        pytest.param(
            [True, True, False, True, True],
            [[], ["warning"], ["resolved"], [], ["warning"]],
            id="warning-resolves-and-returns",
        ),
    ],
)
def test_consecutive_breach_states(breaches: list[bool], expected: list[list[str]]) -> None:
    """2 in a row warn, 3 go critical, the first good run resolves; each change once."""
    _, alerts = run_series(breaches)
    assert alerts == expected


def test_reminders_follow_the_interval() -> None:
    """Critical from the third run; a 30-minute reminder repeats every other run."""
    _, alerts = run_series([True] * 7, reminder=timedelta(minutes=30))
    assert alerts == [[], ["warning"], ["critical"], [], ["critical"], [], ["critical"]]


def test_burn_rate_counts_only_runs_inside_the_window() -> None:
    """Runs at or before now - window fall out; the budget scales the fraction."""
    now = START + timedelta(hours=2)
    history = (
        (now - timedelta(hours=1), 100, 100),  # exactly at the edge: outside
        (now - timedelta(minutes=30), 100, 10),
        (now, 100, 0),
    )
    assert burn_rate(history, now, timedelta(hours=1), OBJECTIVE) == pytest.approx(5.0)
    assert burn_rate(history, now, timedelta(minutes=5), OBJECTIVE) == 0.0
    assert burn_rate((), now, timedelta(hours=1), OBJECTIVE) == 0.0


def burn_after(bad_per_run: list[int]) -> tuple[BurnLevel, list[str], dict[str, float]]:
    """Evaluate runs every 15 minutes (100 requests each); the last level and alerts."""
    state = SourceSlo("api")
    raised: list[str] = []
    evidence: dict[str, float] = {}
    for i, bad in enumerate(bad_per_run):
        state, alerts = evaluate(
            state, observation(START + i * EVERY, bad=bad), objective=OBJECTIVE, reminder=None
        )
        for alert in alerts:
            if alert.kind == "burn_rate":
                raised.append(alert.state)
                evidence = dict(alert.evidence["burn_rates"])
    return state.burn_level, raised, evidence


DAY = 96  # runs per day at one every 15 minutes


@pytest.mark.parametrize(
    ("bad_per_run", "level"),
    [
        pytest.param([20] * 8, BurnLevel.PAGE, id="1h-5m-at-14.4x-pages"),
        pytest.param([10] * 24, BurnLevel.PAGE, id="6h-30m-at-6x-pages"),
        pytest.param([4] * DAY, BurnLevel.TICKET, id="1d-2h-at-3x-tickets"),
        pytest.param([2] * (3 * DAY), BurnLevel.TICKET, id="3d-6h-at-1x-tickets"),
        pytest.param([0] * (3 * DAY), BurnLevel.NONE, id="within-budget"),
        pytest.param([1] * (3 * DAY), BurnLevel.NONE, id="exactly-1x-is-not-over"),
        pytest.param([20] * 12 + [0] * 4, BurnLevel.TICKET, id="fast-burn-stopped-still-tickets"),
        pytest.param([0] * 300 + [50], BurnLevel.NONE, id="half-bad-run-after-calm-days"),
        pytest.param([0] * 20 + [100], BurnLevel.PAGE, id="one-fully-bad-run-pages"),
    ],
)
def test_burn_rate_rules(bad_per_run: list[int], level: BurnLevel) -> None:
    """Both windows of a rule must burn faster than its factor for it to fire."""
    assert burn_after(bad_per_run)[0] is level


def test_a_sustained_page_alerts_once_and_resolves_once() -> None:
    """Level changes alert once each: page, then (budget recovered) resolved."""
    level, raised, evidence = burn_after([50] * 8 + [0] * (3 * DAY + 4))
    assert level is BurnLevel.NONE
    assert raised == ["page", "ticket", "resolved"]
    assert set(evidence) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}


def test_history_keeps_only_the_longest_window() -> None:
    """Per-run counts older than 3 days are dropped from the stored state."""
    state = SourceSlo("api")
    for i in range(3 * DAY + 10):
        state, _ = evaluate(
            state, observation(START + i * EVERY), objective=OBJECTIVE, reminder=None
        )
    assert len(state.history) == 3 * DAY


def test_record_run_persists_and_continues_the_streak() -> None:
    """State survives between runs in latency/slo/<source>.json."""
    store = MemoryStore()
    for i in range(3):
        state, alerts = record_run(
            store,
            "api",
            observation(START + i * EVERY, breached=True),
            objective=OBJECTIVE,
            reminder=None,
        )
    assert state.state is SloState.CRITICAL
    assert [a.state for a in alerts if a.kind == "consecutive"] == ["critical"]
    stored = load(store, "api")
    assert stored == state
    assert stored.last_breach_at == START + 2 * EVERY
    assert store.get_or_none("latency/slo/api.json") is not None


def test_all_sources_lists_every_stored_state() -> None:
    """Reports read each source's state; a damaged object is passed over."""
    store = MemoryStore()
    for source in ("web", "api"):
        record_run(store, source, observation(START, breached=True), objective=0.99, reminder=None)
    store.put("latency/slo/broken.json", b"{")
    states = all_sources(store)
    assert [(s.source, s.consecutive_breaches) for s in states] == [("api", 1), ("web", 1)]
