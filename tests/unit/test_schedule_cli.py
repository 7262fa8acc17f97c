"""``opsplane schedule status | run | loop`` through the CLI entry point."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import runtime
from shared.cli import main as cli_main
from shared.runlog import RunLog
from shared.schedule import JobContext, register_job, unregister_job


@pytest.fixture
def jobs() -> Iterator[list[str]]:
    seen: list[str] = []

    def tick(ctx: JobContext) -> None:
        seen.append(ctx.job)

    def broken(_: JobContext) -> None:
        raise RuntimeError("login failed for ops@example.com with Bearer abcdefghijklmnop")

    register_job("cli_tick", tick, replace=True)
    register_job("cli_broken", broken, replace=True)
    yield seen
    unregister_job("cli_tick")
    unregister_job("cli_broken")


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, enabled: bool = True) -> None:
    path = tmp_path / "schedule.json"
    path.write_text(
        json.dumps(
            {
                "enabled": enabled,
                "jobs": {
                    "cli_tick": {"cadence": "every", "everyMinutes": 1},
                    "cli_broken": {"cadence": "daily", "at": "09:00", "enabled": False},
                },
            }
        )
    )
    monkeypatch.setenv("OPSPLANE_SCHEDULE_CONFIG", str(path))


def test_run_runs_due_jobs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    jobs: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`schedule run` runs the due job, prints it, and leaves a run-log record."""
    _config(tmp_path, monkeypatch)
    assert cli_main(["schedule", "run"]) == 0
    assert jobs == ["cli_tick"]
    assert "cli_tick: ok" in capsys.readouterr().out
    assert [r.job for r in RunLog(runtime.store()).read()] == ["cli_tick"]


def test_forced_failing_job_exits_1_with_a_redacted_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    jobs: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`schedule run --job X --force` runs a disabled job; its failure is exit 1, redacted."""
    _config(tmp_path, monkeypatch)
    assert cli_main(["schedule", "run", "--job", "cli_broken", "--force", "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    [outcome] = body["ran"]
    assert (outcome["job"], outcome["status"], outcome["forced"]) == ("cli_broken", "error", True)
    assert "abcdefghijklmnop" not in outcome["errorMessage"]
    assert jobs == []


def test_unknown_job_is_a_usage_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    jobs: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`schedule run --job nope` exits 2 naming the configured jobs."""
    _config(tmp_path, monkeypatch)
    assert cli_main(["schedule", "run", "--job", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown job 'nope'" in err
    assert "cli_tick" in err


def test_disabled_schedule_says_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    jobs: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With enabled=false nothing runs and the output says why."""
    _config(tmp_path, monkeypatch, enabled=False)
    assert cli_main(["schedule", "run"]) == 0
    assert "nothing due (the schedule is disabled)" in capsys.readouterr().out
    assert jobs == []


def test_status_table_and_json(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    jobs: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`schedule status` shows schedules and run counts, as a table and as JSON."""
    _config(tmp_path, monkeypatch)
    cli_main(["schedule", "run"])
    capsys.readouterr()
    assert cli_main(["schedule", "status"]) == 0
    table = capsys.readouterr().out
    assert "schedule enabled; times in Asia/Tokyo" in table
    assert "daily at 09:00" in table
    assert cli_main(["schedule", "status", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    by_job = {job["job"]: job for job in body["jobs"]}
    assert by_job["cli_tick"]["state"]["runCount"] == 1
    assert by_job["cli_broken"]["nextRunAt"] is None


def test_bad_configuration_is_one_clear_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    jobs: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A broken schedule file → exit 1 and a message naming the bad key."""
    path = tmp_path / "schedule.json"
    path.write_text(json.dumps({"jobs": {"cli_tick": {"cadence": "sometimes"}}}))
    monkeypatch.setenv("OPSPLANE_SCHEDULE_CONFIG", str(path))
    assert cli_main(["schedule", "status"]) == 1
    assert "jobs.cli_tick.cadence" in capsys.readouterr().err


def test_loop_rejects_a_non_positive_interval(capsys: pytest.CaptureFixture[str]) -> None:
    """`schedule loop --interval 0` is a usage error."""
    assert cli_main(["schedule", "loop", "--interval", "0"]) == 2
    assert "--interval must be positive" in capsys.readouterr().err


def test_loop_process_ticks_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`opsplane schedule loop` runs due jobs at once, then exits 0 on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys

    path = tmp_path / "schedule.json"
    path.write_text(json.dumps({"enabled": True, "jobs": {"sweeper": {"everyMinutes": 1}}}))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPSPLANE_")},
        "OPSPLANE_STORE": f"file://{tmp_path / 'store'}",
        "OPSPLANE_SCHEDULE_CONFIG": str(path),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from shared.cli import main; sys.exit(main(sys.argv[1:]))",
            *("schedule", "loop", "--interval", "60"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "ticking every 60s" in process.stdout.readline()
        assert process.stdout.readline().startswith("sweeper: ok")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "schedule loop stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
