"""The weekly improvement digest: incidents by job type and code, top three causes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from shared.reports import make_report
from shared.reports.digest import Cause, incidents_of
from shared.reports.tally import FailureTally, epoch_minute
from shared.storage.memory import MemoryStore
from tests.unit.test_reports_seed import ManualClock, Seeder

NOW = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
WEEK_START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def _failure(*offsets: int) -> FailureTally:
    base = epoch_minute(WEEK_START)
    return FailureTally("http", "timeout", "x", Counter({base + m: 1 for m in offsets}))


@pytest.mark.parametrize(
    ("offsets", "expected"),
    [
        pytest.param((0,), [1], id="single"),
        pytest.param((0, 10, 40), [3], id="each-within-30-min"),
        pytest.param((0, 31), [1, 1], id="gap-over-30-min"),
        pytest.param((0, 5, 200, 210, 215, 600), [2, 3, 1], id="three-bursts"),
    ],
)
def test_incidents_split_on_quiet_gaps(offsets: tuple[int, ...], expected: list[int]) -> None:
    """Failures close in time are one incident; a gap over 30 minutes starts another."""
    assert [i.failures for i in incidents_of(_failure(*offsets))] == expected


def test_digest_ranks_top_three_causes_with_examples_and_actions() -> None:
    """Four causes seeded; the three with most failures come first with real example runs."""
    store = MemoryStore()
    seeder = Seeder(store, ManualClock(WEEK_START))
    plan = {
        ("http", "timeout"): 7,
        ("report.build", "auth"): 5,
        ("http", "temporary_failure"): 3,
        ("sleep", "bad_request"): 1,
    }
    start = WEEK_START + timedelta(days=1)
    for index, ((job, code), count) in enumerate(plan.items()):
        for n in range(count):
            # Two bursts per cause: the first half on day 1, the rest a day later.
            at = start + timedelta(hours=index, minutes=n) + timedelta(days=n % 2)
            seeder.play(job, at, [(1.0, code)], message=f"{code} on item {n}")
    seeder.play("http", start, [(1.0, None)])  # successes are not causes
    bundle = make_report(store, "digest", NOW, locale="en")
    causes = bundle.report.causes
    assert [(c.job_type, c.code, c.failures) for c in causes] == [
        ("http", "timeout", 7),
        ("report.build", "auth", 5),
        ("http", "temporary_failure", 3),
    ]
    failed_ids: dict[tuple[str, str | None], set[str]] = {}
    for s in seeder.seeded:
        if s.code:
            failed_ids.setdefault((s.job_type, s.code), set()).add(s.run_id)
    for cause in causes:
        assert len(cause.incidents) == 2
        assert 1 <= len(cause.examples) <= 3
        assert set(cause.examples) <= failed_ids[(cause.job_type, cause.code)]
        assert cause.reason == f"{cause.code} on item <n>"
    payload_causes = bundle.payload["causes"]
    assert [c["failures"] for c in payload_causes] == [7, 5, 3]
    assert payload_causes[0]["examples"] == list(causes[0].examples)
    assert "Raise the job type's timeout" in payload_causes[0]["action"]
    for example in causes[0].examples:
        assert f"`{example}`" in bundle.markdown


@pytest.mark.parametrize(
    ("code", "locale", "fragment"),
    [
        pytest.param("timeout", "en", "timeout", id="timeout-en"),
        pytest.param("timeout", "ja", "タイムアウト", id="timeout-ja"),
        pytest.param("auth", "en", "credentials", id="auth-en"),
        pytest.param("rate_limit", "en", "rate", id="rate-limit-en"),
        pytest.param("mystery", "en", "example runs", id="unknown-code-en"),
        pytest.param("mystery", "ja", "実行例", id="unknown-code-ja"),
    ],
)
def test_suggested_action_fits_the_code(code: str, locale: str, fragment: str) -> None:
    """Each code has an action in both locales; unknown codes get the generic one."""
    cause = Cause("http", code, "r", 1, (), ())
    assert fragment in cause.action(locale)


def test_digest_without_failures_says_so() -> None:
    """A week without failures has no causes and says so in Japanese too."""
    bundle = make_report(MemoryStore(), "digest", NOW, locale="ja")
    assert bundle.report.causes == ()
    assert "今週の失敗はありません。" in bundle.markdown
