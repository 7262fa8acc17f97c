"""``opsplane runs ...`` and ``opsplane queue stats`` against the served runs API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from shared.cli import main
from shared.localstack import build_app
from tests.jobs_support import API_TOKEN, installed, make_plane, served


@pytest.fixture
def base_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OPSPLANE_API_TOKENS", f"cli={API_TOKEN}")
    monkeypatch.setenv("OPSPLANE_API_TOKEN", API_TOKEN)
    app = build_app({"runs": ("/runs",), "execute_task": ("/tasks",)})
    with installed(make_plane()), served(app) as url:
        yield url


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, json.loads(captured.out or captured.err)


def test_submit_get_list_cancel(base_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A run submitted from the CLI can be read, listed and cancelled from it."""
    code, submitted = cli(
        capsys, "runs", "submit", "sleep", "--params", '{"ms": 5}', "--url", base_url
    )
    assert code == 0
    run_id = str(submitted["run_id"])
    code, shown = cli(capsys, "runs", "get", run_id, "--url", base_url)
    assert (code, shown["owner"], shown["params"]) == (0, "cli", {"ms": 5})
    code, listed = cli(capsys, "runs", "list", "--status", "QUEUED", "--url", base_url)
    assert [run["run_id"] for run in listed["runs"]] == [run_id]  # type: ignore[index, union-attr]
    code, cancelled = cli(capsys, "runs", "cancel", run_id, "--url", base_url)
    assert (code, cancelled["status"]) == (0, "CANCELLED")
    code, again = cli(capsys, "runs", "cancel", run_id, "--url", base_url)
    assert (code, again["error"]) == (1, "illegal_transition")


def test_approval_from_the_cli(base_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--requires-approval parks the run; runs approve queues it."""
    _, submitted = cli(capsys, "runs", "submit", "noop", "--requires-approval", "--url", base_url)
    assert submitted["status"] == "WAITING_APPROVAL"
    code, approved = cli(capsys, "runs", "approve", str(submitted["run_id"]), "--url", base_url)
    assert (code, approved["status"]) == (0, "QUEUED")


def test_queue_stats(base_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """opsplane queue stats prints the /tasks/health figures."""
    code, stats = cli(capsys, "queue", "stats", "--url", base_url)
    assert code == 0
    assert {"in_flight", "queued", "running", "waiting_approval", "utilization_pct"} <= set(stats)


def test_a_wrong_token_exits_1_with_the_error(
    base_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An API error is printed as JSON on stderr and the exit code is 1."""
    code, error = cli(capsys, "runs", "list", "--url", base_url, "--token", "nope")
    assert (code, error["error"]) == (1, "invalid_credentials")
