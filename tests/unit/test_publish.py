"""Posting reports: signed webhooks with retries, dry runs, GitHub, history and retention."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.reports import make_report
from shared.reports.deliver import DeliveryFailed, Target, deliver
from shared.reports.history import HISTORY_PREFIX, prune_history, write_history
from shared.reports.publish import PayloadInvalid, WebhookOptions, post_webhook
from shared.runlog import RunLog
from shared.schedule import ScheduleRunner, parse_config
from shared.storage.memory import MemoryStore
from tests.github_server import GitHubServer
from tests.latency_servers import WebhookReceiver, webhook_receiver
from tests.unit.test_reports_seed import ManualClock, Seeder

SECRET = "report-signing-secret"
NOW = datetime(2026, 11, 25, 0, 20, tzinfo=UTC)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    monkeypatch.setenv("OPSPLANE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("OPSPLANE_REPORT_WEBHOOK_RETRY_WAIT_S", "0.01")
    with webhook_receiver(SECRET) as hook:
        yield hook


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    seeder = Seeder(store, ManualClock(NOW - timedelta(hours=5)))
    seeder.play("http", NOW - timedelta(hours=5), [(1.0, None)])
    seeder.play("http", NOW - timedelta(hours=4), [(2.0, "timeout")], message="timed out")
    return store


def _runner(store: MemoryStore, job: dict[str, Any], **extra: Any) -> ScheduleRunner:
    config = parse_config({"enabled": True, "jobs": {"daily_observability_report": job}, **extra})
    return ScheduleRunner(store, config, clock=lambda: NOW)


def test_webhook_retried_on_503_is_delivered_once_with_three_attempts_logged(
    store: MemoryStore, receiver: WebhookReceiver
) -> None:
    """503, 503, then 200: one delivery, a verified signature, three attempts in the run log."""
    receiver.responses.extend([(503, {}), (503, {})])
    runner = _runner(store, {"cadence": "daily", "at": "09:00", "webhook": receiver.url})
    [outcome] = runner.run_once(NOW, force=True, only="daily_observability_report")
    assert outcome.status.value == "ok"
    assert len(receiver.received) == 3
    assert all(r.signature_ok for r in receiver.received)
    assert len({r.body for r in receiver.received}) == 1  # the same signed body each time
    [delivered] = receiver.verified_payloads[-1:]
    assert delivered["kind"] == "daily"
    assert delivered["runs"]["total"] == 2
    assert receiver.received[0].headers["x-obs-schema-version"] == "1"
    [record] = list(RunLog(store).read(job="daily_observability_report"))
    assert (record.status.value, record.attempts) == ("ok", 3)
    digest = record.artefacts["report.json.sha256"]
    assert hashlib.sha256(store.get(record.artefacts["report.json"]).data).hexdigest() == digest


def test_undeliverable_webhook_fails_the_run_and_keeps_the_history(
    store: MemoryStore, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Always 503: the run fails with a code, its attempts logged, the report still kept."""
    monkeypatch.setenv("OPSPLANE_REPORT_WEBHOOK_MAX_RETRIES", "2")
    receiver.responses.extend([(503, {})] * 5)
    runner = _runner(store, {"cadence": "daily", "at": "09:00", "webhook": receiver.url})
    [outcome] = runner.run_once(NOW, force=True, only="daily_observability_report")
    assert (outcome.status.value, outcome.error_code) == ("error", "webhook_undelivered")
    [record] = list(RunLog(store).read(job="daily_observability_report"))
    assert record.attempts == 3
    assert store.get_or_none(record.artefacts["report.md"]) is not None


def test_invalid_payload_is_not_sent(receiver: WebhookReceiver, store: MemoryStore) -> None:
    """A payload missing a required field fails validation and nothing reaches the receiver."""
    payload = make_report(store, "daily", NOW).payload
    del payload["period_start"]
    with pytest.raises(PayloadInvalid, match="period_start"):
        post_webhook(receiver.url, payload, WebhookOptions(SECRET, retry_wait_seconds=0))
    assert receiver.received == []


def test_dry_run_stores_the_signed_payload_and_sends_nothing(
    store: MemoryStore, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPSPLANE_REPORT_DRY_RUN: the exact body and its signature land in the outbox."""
    monkeypatch.setenv("OPSPLANE_REPORT_DRY_RUN", "1")
    runner = _runner(store, {"cadence": "daily", "at": "09:00", "webhook": receiver.url})
    [outcome] = runner.run_once(NOW, force=True, only="daily_observability_report")
    assert outcome.status.value == "ok"
    assert receiver.received == []
    [record] = list(RunLog(store).read(job="daily_observability_report"))
    stored = json.loads(store.get(record.artefacts["dry_run"]).data)
    body = json.dumps(
        stored["body"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert stored["signature"] == expected
    assert stored["body"]["runs"]["failed"] == 1


def test_history_objects_match_their_sha256_and_signature(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON, Markdown and chart are kept; digests and the HMAC of the manifest verify."""
    monkeypatch.setenv("OPSPLANE_WEBHOOK_SECRET", SECRET)
    bundle = make_report(store, "weekly", NOW)
    delivered = deliver(store, bundle, Target(), now=NOW)
    folder = f"{HISTORY_PREFIX}weekly/20261125T0000Z"
    names = sorted(info.name for info in store.list(folder + "/"))
    assert names == [f"{folder}/{n}" for n in ("chart.svg", "report.json", "report.md")] + [
        f"{folder}/signature.json"
    ]
    signature = json.loads(store.get(f"{folder}/signature.json").data)
    for name in ("chart.svg", "report.json", "report.md"):
        digest = hashlib.sha256(store.get(f"{folder}/{name}").data).hexdigest()
        assert signature["sha256"][name] == digest
        assert delivered.artefacts[f"{name}.sha256"] == digest
    manifest = json.dumps(signature["sha256"], sort_keys=True, separators=(",", ":")).encode()
    expected = hmac.new(SECRET.encode(), manifest, hashlib.sha256).hexdigest()
    assert signature["hmac_sha256"] == f"sha256={expected}"
    again = deliver(store, make_report(store, "weekly", NOW), Target(), now=NOW)
    assert again.artefacts["report.md"] == f"{folder}-2/report.md"  # never overwritten


def test_retention_prunes_reports_older_than_60_days() -> None:
    """With an injected clock: reports older than 60 days go, the rest stay."""
    store = MemoryStore()
    now = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    ages = [1, 30, 59, 61, 90]
    for age in ages:
        write_history(store, "daily", now - timedelta(days=age), {"report.md": b"x"})
    removed = prune_history(store, now)
    kept = sorted({info.name.split("/")[3] for info in store.list(HISTORY_PREFIX)})
    assert removed == 2 * 2  # report.md and signature.json of two reports
    assert kept == sorted(f"{now - timedelta(days=age):%Y%m%dT%H%MZ}" for age in ages if age <= 60)


def test_report_job_prunes_history_with_the_runner_clock(store: MemoryStore) -> None:
    """The report job itself enforces retention for its kind."""
    old = NOW - timedelta(days=70)
    write_history(store, "daily", old, {"report.md": b"old"})
    runner = _runner(store, {"cadence": "daily", "at": "09:00"})
    runner.run_once(NOW, force=True, only="daily_observability_report")
    folders = {info.name.split("/")[3] for info in store.list(f"{HISTORY_PREFIX}daily/")}
    assert folders == {"20261125T0000Z"}


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubServer]:
    with GitHubServer() as server:
        server.configure_env(monkeypatch)
        yield server


def test_report_comments_on_the_dashboard_issue(store: MemoryStore, github: GitHubServer) -> None:
    """postToIssue with dashboardIssue: one comment on that issue, in the chosen locale."""
    github.add_issue("Ops dashboard")
    runner = _runner(
        store, {"cadence": "daily", "at": "09:00", "postToIssue": True}, dashboardIssue=1
    )
    [outcome] = runner.run_once(NOW, force=True, only="daily_observability_report")
    assert outcome.status.value == "ok"
    [comment] = github.comments[1]
    assert comment["body"].startswith("# Daily observability report")
    assert len(github.issues) == 1
    [record] = list(RunLog(store).read(job="daily_observability_report"))
    assert "github" in record.artefacts


def test_report_opens_an_issue_without_a_dashboard_issue(
    store: MemoryStore, github: GitHubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """postToIssue without dashboardIssue: a new issue holding the (Japanese) report."""
    monkeypatch.setenv("OPSPLANE_REPORT_LOCALE", "ja")
    runner = _runner(store, {"cadence": "daily", "at": "09:00", "postToIssue": True})
    runner.run_once(NOW, force=True, only="daily_observability_report")
    [issue] = github.issues.values()
    assert issue["title"].startswith("日次オブザーバビリティレポート")
    assert "Job実行状態" in issue["body"]


def test_github_failure_is_a_job_failure_with_a_code(
    store: MemoryStore, github: GitHubServer
) -> None:
    """A 404 dashboard issue fails the run as github_post_failed; history is still kept."""
    bundle = make_report(store, "daily", NOW)
    with pytest.raises(DeliveryFailed) as caught:
        deliver(
            store, bundle, Target(github=True, dashboard_issue=99), now=NOW, sleep=lambda s: None
        )
    assert caught.value.code == "github_post_failed"
    assert "report.md" in caught.value.artefacts
