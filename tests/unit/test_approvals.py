"""The approval watcher against the loopback GitHub server."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import runtime
from shared.approvals import ApprovalSettings, ApprovalWatcher, last_status
from shared.approvals.job import run_sync, sync_once
from shared.github import GitHubClient
from shared.jobs import service
from shared.jobs.executor import Executor
from shared.jobs.models import Run, RunStatus
from shared.jobs.plane import Plane
from shared.runlog import RunLog
from shared.schedule import ScheduleRunner, parse_config, registered_jobs
from tests.github_server import GitHubServer
from tests.jobs_support import RecordingQueue, installed, make_plane

SECRET = "sk_live_" + "9" * 24
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class EventsGitHubServer(GitHubServer):
    """The loopback server plus issue events, so label changes have an actor."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events: dict[int, list[dict[str, Any]]] = {}

    def label_as(self, number: int, label: str, user: str) -> None:
        """``user`` adds ``label`` on GitHub (the label and a ``labeled`` event)."""
        with self._lock:
            issue = self.issues[number]
            if label not in [lb["name"] for lb in issue["labels"]]:
                issue["labels"].append({"name": label, "color": "ededed"})
            events = self.events.setdefault(number, [])
            events.append(
                {
                    "id": 5000 + sum(len(e) for e in self.events.values()),
                    "event": "labeled",
                    "label": {"name": label},
                    "actor": {"login": user},
                    "created_at": self._time(),
                }
            )
            self._touch(issue)

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, user: str
    ) -> tuple[int, Any, dict[str, str]]:
        match = re.fullmatch(rf"/repos/{self.repository}/issues/(\d+)/events", path)
        if match and method == "GET":
            return self._page(path, query, self.events.get(int(match.group(1)), []))
        return super()._route(method, path, query, body, user)


@pytest.fixture
def github() -> Iterator[EventsGitHubServer]:
    with EventsGitHubServer() as server:
        server.now = T0
        yield server


@pytest.fixture
def plane() -> Iterator[Plane]:
    with installed(make_plane(runtime.store())) as plane:
        yield plane


@pytest.fixture
def settings() -> ApprovalSettings:
    return ApprovalSettings(approvers=frozenset({"alice"}))


@pytest.fixture
def factory(github: EventsGitHubServer) -> Callable[[], GitHubClient]:
    def build() -> GitHubClient:
        return GitHubClient(
            github.repository,
            token=github.token,
            base_url=github.url,
            sleep=lambda _: None,
            max_wait_seconds=5,
        )

    return build


def waiting_run(plane: Plane) -> Run:
    submission = service.Submission("noop", {"api_key": SECRET, "n": 1}, requires_approval=True)
    run, _ = service.submit(plane, submission, "team-a")
    assert run.status is RunStatus.WAITING_APPROVAL
    return run


def sync(plane: Plane, factory: Callable[[], GitHubClient], settings: ApprovalSettings) -> Any:
    with factory() as client:
        return ApprovalWatcher(plane, client, settings).sync()


def answers(github: GitHubServer, number: int) -> list[str]:
    return [c["body"] for c in github.comments[number] if c["user"]["login"] == github.login]


def test_waiting_run_gets_one_approval_issue(
    plane: Plane, github: EventsGitHubServer, factory: Any, settings: ApprovalSettings
) -> None:
    """A waiting run opens one labelled issue naming it, params redacted; later passes reuse it."""
    run = waiting_run(plane)
    report = sync(plane, factory, settings)
    assert report.opened == [run.run_id]
    assert list(github.issues) == [1]
    issue = github.issues[1]
    assert run.run_id in issue["title"]
    assert run.run_id in issue["body"]
    assert github.labels_of(1) == ["opsplane-approval"]
    assert SECRET not in issue["body"]
    assert "@alice" in issue["body"]
    again = sync(plane, factory, settings)
    assert (again.opened, again.joined) == ([], [])
    assert list(github.issues) == [1]


def test_allowed_approve_comment_releases_the_run_and_it_runs(
    plane: Plane, github: EventsGitHubServer, factory: Any, settings: ApprovalSettings
) -> None:
    """/approve by an allowed user: run QUEUED and enqueued, decision recorded, answered, closed."""
    run = waiting_run(plane)
    sync(plane, factory, settings)
    github.add_comment(1, "/approve looks fine", user="alice")
    report = sync(plane, factory, settings)
    assert report.approved == [run.run_id]
    approved = plane.runs.get(run.run_id).run
    assert approved.status is RunStatus.QUEUED
    assert approved.extra["approved_by"] == "github:alice via comment"
    decision = approved.extra["approval_decision"]
    assert (decision["by"], decision["via"], decision["decision"]) == (
        "alice",
        "comment",
        "approve",
    )
    assert decision["at"] == "2026-11-25T09:00:00Z"
    queue = plane.queue
    assert isinstance(queue, RecordingQueue)
    assert [task.name for task in queue.tasks] == [f"{run.run_id}-a1"]
    assert Executor(plane).execute(run.run_id, 1).run.status is RunStatus.SUCCEEDED
    (answer,) = answers(github, 1)
    assert "Approve by @alice" in answer
    assert github.issues[1]["state"] == "closed"
    # Nothing repeats on the next pass.
    later = sync(plane, factory, settings)
    assert (later.approved, later.closed) == ([], [])
    assert len(answers(github, 1)) == 1


def test_approve_by_someone_else_changes_nothing_and_is_answered_once(
    plane: Plane, github: EventsGitHubServer, factory: Any, settings: ApprovalSettings
) -> None:
    """/approve by a user who is not an approver: the run keeps waiting; one answer, not two."""
    run = waiting_run(plane)
    sync(plane, factory, settings)
    github.add_comment(1, "/approve", user="mallory")
    first = sync(plane, factory, settings)
    second = sync(plane, factory, settings)
    assert first.refused == [f"{run.run_id}:mallory"]
    assert second.refused == []
    assert plane.runs.get(run.run_id).run.status is RunStatus.WAITING_APPROVAL
    assert plane.queue.tasks == []  # type: ignore[attr-defined]
    (answer,) = answers(github, 1)
    assert "@mallory may not approve" in answer
    assert github.issues[1]["state"] == "open"


def test_rejected_label_by_an_approver_ends_the_run(
    plane: Plane, github: EventsGitHubServer, factory: Any, settings: ApprovalSettings
) -> None:
    """Label `rejected` by an allowed user: the run is CANCELLED, recorded, answered, closed."""
    run = waiting_run(plane)
    sync(plane, factory, settings)
    github.label_as(1, "rejected", "alice")
    report = sync(plane, factory, settings)
    assert report.rejected == [run.run_id]
    ended = plane.runs.get(run.run_id).run
    assert ended.status is RunStatus.CANCELLED
    assert ended.extra["rejected_by"] == "github:alice via label"
    assert "Reject by @alice (label" in answers(github, 1)[0]
    assert github.issues[1]["state"] == "closed"
    assert plane.queue.tasks == []  # type: ignore[attr-defined]


def test_decisive_label_by_someone_else_is_refused_and_removed(
    plane: Plane, github: EventsGitHubServer, factory: Any, settings: ApprovalSettings
) -> None:
    """Label `approved` by a non-approver: refused once, the label is taken off, the run waits."""
    run = waiting_run(plane)
    sync(plane, factory, settings)
    github.label_as(1, "approved", "mallory")
    report = sync(plane, factory, settings)
    assert report.refused == [f"{run.run_id}:mallory"]
    assert "approved" not in github.labels_of(1)
    assert plane.runs.get(run.run_id).run.status is RunStatus.WAITING_APPROVAL


def test_earliest_allowed_decision_wins(
    plane: Plane, github: EventsGitHubServer, factory: Any
) -> None:
    """A /reject before an /approve (both by approvers) rejects the run."""
    settings = ApprovalSettings(approvers=frozenset({"alice", "bob"}))
    run = waiting_run(plane)
    sync(plane, factory, settings)
    github.add_comment(1, "/reject too risky", user="bob")
    github.now = T0 + timedelta(minutes=1)
    github.add_comment(1, "/approve", user="alice")
    sync(plane, factory, settings)
    assert plane.runs.get(run.run_id).run.status is RunStatus.CANCELLED


def test_joins_an_open_issue_that_names_the_run(
    plane: Plane, github: EventsGitHubServer, factory: Any, settings: ApprovalSettings
) -> None:
    """An approval issue someone already opened for the run is joined, not duplicated."""
    run = waiting_run(plane)
    github.add_issue(
        f"Approval needed: noop run {run.run_id}", labels=["opsplane-approval"], user="alice"
    )
    report = sync(plane, factory, settings)
    assert report.joined == [run.run_id]
    assert list(github.issues) == [1]
    github.add_comment(1, "/approve", user="ALICE")
    sync(plane, factory, settings)
    assert plane.runs.get(run.run_id).run.status is RunStatus.QUEUED


def test_run_decided_through_the_api_closes_its_issue(
    plane: Plane, github: EventsGitHubServer, factory: Any, settings: ApprovalSettings
) -> None:
    """When the run stops waiting elsewhere, the watcher says so on the issue and closes it."""
    run = waiting_run(plane)
    sync(plane, factory, settings)
    service.cancel(plane, run.run_id, "team-a")
    report = sync(plane, factory, settings)
    assert report.closed == [1]
    assert "CANCELLED" in answers(github, 1)[0]
    assert github.issues[1]["state"] == "closed"


@pytest.mark.parametrize(
    ("script", "code"),
    [
        pytest.param({"status": 401}, "github_auth", id="bad-token"),
        pytest.param({"status": 403}, "github_permission", id="under-privileged"),
        pytest.param({"rate_limit": 600}, "github_rate_limited", id="rate-limited"),
    ],
)
def test_github_trouble_is_reported_not_raised(  # noqa: PLR0917 - fixtures and the table row
    plane: Plane,
    github: EventsGitHubServer,
    factory: Any,
    settings: ApprovalSettings,
    script: dict[str, int],
    code: str,
) -> None:
    """401, 403 and rate limits end the pass with a code in the run log and the status."""
    waiting_run(plane)
    if "rate_limit" in script:
        github.rate_limit(retry_after=script["rate_limit"], times=5)
    else:
        github.script(script["status"], times=5)
    report = run_sync(plane, client_factory=factory, settings=settings)
    assert report.error_code == code
    assert github.token not in (report.error_message or "")
    status = last_status(plane.store)
    assert status is not None
    assert (status["status"], status["error_code"]) == ("error", code)
    (record,) = RunLog(plane.store).read()
    assert (record.job, record.status.value, record.error_code) == (
        "approval_watcher",
        "error",
        code,
    )


def test_missing_token_is_reported_then_recovery_is_seen(
    plane: Plane,
    github: EventsGitHubServer,
    factory: Any,
    settings: ApprovalSettings,
) -> None:
    """No GITHUB_TOKEN: an error status naming it; the next good pass resets the failures."""
    waiting_run(plane)
    failed = sync_once(plane, settings=settings)  # the default factory reads the environment
    assert failed.error_code == "github_auth"
    assert "GITHUB_TOKEN" in (failed.error_message or "")
    assert last_status(plane.store)["consecutive_failures"] == 1  # type: ignore[index]
    ok = sync_once(plane, client_factory=factory, settings=settings)
    assert ok.ok
    status = last_status(plane.store)
    assert status is not None
    assert (status["status"], status["consecutive_failures"], status["opened"]) == ("ok", 0, 1)


def test_registered_as_a_scheduled_job_whose_failures_reach_the_run_log(
    plane: Plane, settings: ApprovalSettings
) -> None:
    """The schedule runner runs `approval_watcher`; without a token its record is an error."""
    assert "approval_watcher" in registered_jobs()
    config = parse_config(
        {"enabled": True, "jobs": {"approval_watcher": {"cadence": "every", "everyMinutes": 1}}}
    )
    runner = ScheduleRunner(plane.store, config, clock=lambda: T0)
    (outcome,) = runner.run_once(T0, force=True, only="approval_watcher")
    assert (outcome.status.value, outcome.error_code) == ("error", "github_auth")
    records = list(RunLog(plane.store).read(job="approval_watcher"))
    assert [r.error_code for r in records] == ["github_auth"]


def test_cli_sync_and_status(
    plane: Plane,
    github: EventsGitHubServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`approvals sync` opens the issue and applies an approval; `status` shows the pass."""
    from shared.cli import main

    monkeypatch.setenv("OPSPLANE_APPROVERS", "@Alice, bob")
    run = waiting_run(plane)
    assert main(["approvals", "status"]) == 1
    capsys.readouterr()
    github.configure_env(monkeypatch)
    assert main(["approvals", "sync"]) == 0
    assert json.loads(capsys.readouterr().out)["opened"] == [run.run_id]
    github.add_comment(1, "/approve", user="alice")
    assert main(["approvals", "sync"]) == 0
    assert plane.runs.get(run.run_id).run.status is RunStatus.QUEUED
    capsys.readouterr()
    assert main(["approvals", "status"]) == 0
    assert json.loads(capsys.readouterr().out)["approved"] == 1
    monkeypatch.delenv("GITHUB_TOKEN")
    assert main(["approvals", "sync"]) == 1
    assert "GITHUB_TOKEN" in capsys.readouterr().err


def test_a_claim_left_by_a_dead_pass_is_taken_over_once_stale(
    github: EventsGitHubServer, factory: Any, settings: ApprovalSettings
) -> None:
    """A record claimed without an issue waits while fresh, then the issue is opened once."""
    from shared.approvals.records import ApprovalRecord, ApprovalRecords

    now = [T0]
    plane = make_plane(runtime.store())
    plane.clock = lambda: now[0]
    with installed(plane):
        run = waiting_run(plane)
        ApprovalRecords(plane.store).claim(
            ApprovalRecord(run.run_id, claimed_at="2026-11-25T09:00:00Z")
        )
        assert sync(plane, factory, settings).opened == []
        now[0] = T0 + timedelta(minutes=3)
        assert sync(plane, factory, settings).opened == [run.run_id]
        assert sync(plane, factory, settings).opened == []
        assert list(github.issues) == [1]


def test_issue_names_the_run_even_when_its_id_looks_random(settings: ApprovalSettings) -> None:
    """A run id the entropy rules take for a token still appears in the title and the marker."""
    from shared.approvals.issues import issue_body, issue_title

    run_id = "20261125T201754199978Z-13a93e949a"
    run = Run(run_id, "noop", {"token": SECRET}, "team-a", RunStatus.WAITING_APPROVAL, T0, T0)
    title, body = issue_title(run), issue_body(run, settings)
    assert run_id in title
    assert f"run_id={run_id} -->" in body
    assert SECRET not in body
