"""`opsplane report`: Markdown or JSON on stdout, --post with --dry-run, bad options."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from shared import runtime
from shared.cli import main
from shared.clock import utcnow
from shared.reports.compact import floor_hour
from tests.unit.test_reports_seed import ManualClock, Seeder


@pytest.fixture
def seeded() -> Seeder:
    """Two finished runs in the last closed hours of the process's store."""
    at = floor_hour(utcnow()) - timedelta(hours=2)
    seeder = Seeder(runtime.store(), ManualClock(at))
    seeder.play("http", at, [(1.0, None)])
    seeder.play("http", at + timedelta(minutes=5), [(0.5, "auth")], message="401 from api")
    return seeder


def test_json_format_prints_the_payload(seeded: Seeder, capsys: pytest.CaptureFixture[str]) -> None:
    """--format json prints the canonical payload with the seeded counts."""
    assert main(["report", "daily", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["runs"]["total"], payload["runs"]["failed"]) == (2, 1)
    assert payload["locale"] == "en"


def test_markdown_in_japanese(seeded: Seeder, capsys: pytest.CaptureFixture[str]) -> None:
    """--locale ja prints the Japanese labels."""
    assert main(["report", "weekly", "--locale", "ja"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# 週次オブザーバビリティレポート")
    assert "主な失敗理由" in out


def test_post_dry_run_keeps_history_and_stores_the_payload(
    seeded: Seeder,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """--post --dry-run: history written, the webhook payload stored, nothing sent."""
    config = tmp_path / "schedule.json"
    unreachable = "http://127.0.0.1:9/hook"  # nothing listens on the discard port
    config.write_text(
        json.dumps(
            {"jobs": {"daily_observability_report": {"cadence": "daily", "webhook": unreachable}}}
        )
    )
    monkeypatch.setenv("OPSPLANE_SCHEDULE_CONFIG", str(config))
    monkeypatch.setenv("OPSPLANE_WEBHOOK_SECRET", "s3cret-for-tests")
    assert main(["report", "daily", "--post", "--dry-run"]) == 0
    store = runtime.store()
    [outbox] = list(store.list("reports/outbox/daily/"))
    stored = json.loads(store.get(outbox.name).data)
    assert stored["body"]["runs"]["total"] == 2
    assert stored["signature"].startswith("sha256=")
    assert len(list(store.list("reports/history/daily/"))) == 3  # json, md, signature
    assert "dry_run: reports/outbox/daily/" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["report", "daily", "--locale", "fr"], id="unknown-locale"),
        pytest.param(["report", "daily", "--format", "html"], id="unknown-format"),
        pytest.param(["report", "monthly"], id="unknown-kind"),
    ],
)
def test_bad_options_exit_2(argv: list[str]) -> None:
    """Unknown kinds, locales and formats are usage errors."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
