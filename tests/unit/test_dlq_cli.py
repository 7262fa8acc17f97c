"""``opsplane dlq triage|replay|purge`` on the configured store."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from shared import runtime
from shared.cli import main
from shared.jobs.plane import Plane
from tests.dlq_support import Seeded, seed_dead_letters
from tests.github_server import GitHubServer
from tests.jobs_support import RecordingQueue, installed, make_plane


@pytest.fixture
def github_server() -> Iterator[GitHubServer]:
    with GitHubServer() as server:
        yield server


@pytest.fixture
def plane() -> Iterator[Plane]:
    with installed(make_plane(runtime.store())) as plane:
        yield plane


@pytest.fixture
def seeded(plane: Plane) -> Seeded:
    return seed_dead_letters(plane.store, 24)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_triage_json_and_markdown(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    """--json prints the summary; without it, the Markdown; neither shows a secret."""
    code, out, _ = run(capsys, "dlq", "triage", "--json", "--job-type", "sync")
    assert code == 0
    assert json.loads(out)["total"] == 6
    code, markdown, _ = run(capsys, "dlq", "triage", "--code", "timeout")
    assert code == 0
    assert "## Dead-letter triage" in markdown
    for output in (out, markdown):
        assert not [secret for secret in seeded.secrets if secret in output]


def test_triage_post_opens_then_updates(
    capsys: pytest.CaptureFixture[str],
    seeded: Seeded,
    github_server: GitHubServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--post against the loopback GitHub: the first run opens one issue, the second updates it."""
    github_server.configure_env(monkeypatch)
    _, _, first = run(capsys, "dlq", "triage", "--post")
    _, _, second = run(capsys, "dlq", "triage", "--post")
    assert first.startswith("created issue #1")
    assert second.startswith("updated issue #1")
    assert list(github_server.issues) == [1]
    assert "**24** dead letters" in github_server.issues[1]["body"]


def test_triage_post_without_token_is_one_clear_error(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    """--post with no GITHUB_TOKEN fails with one line naming the variable."""
    code, _, err = run(capsys, "dlq", "triage", "--post")
    assert code == 1
    assert "GITHUB_TOKEN" in err


def test_replay_with_progress_then_nothing_left(
    capsys: pytest.CaptureFixture[str], plane: Plane, seeded: Seeded
) -> None:
    """replay --dry-run changes nothing; replay enqueues once each; a second replay finds none."""
    code, out, _ = run(capsys, "dlq", "replay", "--code", "timeout", "--dry-run")
    assert (code, json.loads(out)["would_replay"]) == (0, 4)
    queue = plane.queue
    assert isinstance(queue, RecordingQueue)
    assert queue.tasks == []
    code, out, err = run(capsys, "dlq", "replay", "--code", "timeout", "--rate", "1000")
    assert (code, json.loads(out)["replayed"]) == (0, 4)
    assert "replay" in err  # the progress bar
    assert len(queue.tasks) == 4
    code, out, _ = run(capsys, "dlq", "replay", "--code", "timeout")
    assert json.loads(out)["matched"] == 0


def test_replay_by_id(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    """--id picks letters by run id."""
    ids = seeded.run_ids[:2]
    code, out, _ = run(capsys, "dlq", "replay", "--id", ids[0], "--id", ids[1])
    assert code == 0
    assert sorted(json.loads(out)["replayed_ids"]) == sorted(ids)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["replay", "--rate", "0"], id="rate-zero"),
        pytest.param(["replay", "--since", "last tuesday"], id="bad-since"),
        pytest.param(["purge", "--kind", "email"], id="bad-kind"),
    ],
)
def test_bad_flags_exit_2(argv: list[str]) -> None:
    """Malformed flags are usage errors (exit 2), before anything runs."""
    with pytest.raises(SystemExit) as exit_info:
        main(["dlq", *argv])
    assert exit_info.value.code == 2


def test_purge_asks_and_respects_no(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    plane: Plane,
    seeded: Seeded,
) -> None:
    """purge without --yes asks; "n" deletes nothing, "y" deletes and audits."""
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, out, _ = run(capsys, "dlq", "purge", "--job-type", "http")
    assert code == 1
    assert "Delete 6 dead letters?" in out
    assert len(list(plane.store.list("dlq/jobs/"))) == 24
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    code, out, _ = run(capsys, "dlq", "purge", "--job-type", "http")
    assert code == 0
    report = json.loads(out.split("[y/N] ", 1)[1])
    assert report["deleted"] == 6
    assert len(list(plane.store.list("dlq/jobs/"))) == 18
    assert len(list(plane.store.list("dlq/audit/"))) == 1


def test_purge_yes_skips_the_question(
    capsys: pytest.CaptureFixture[str], plane: Plane, seeded: Seeded
) -> None:
    """--yes purges without asking."""
    code, out, _ = run(capsys, "dlq", "purge", "--code", "timeout", "--yes")
    assert (code, json.loads(out)["deleted"]) == (0, 4)
