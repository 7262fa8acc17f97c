"""The GitHub client against the loopback GitHub server."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.github import (
    GitHubAuthError,
    GitHubClient,
    GitHubConfigError,
    GitHubError,
    GitHubNotFound,
    GitHubPermissionError,
    GitHubRateLimited,
    GitHubUnavailable,
    GitHubValidationError,
)
from tests.github_server import GitHubServer

NOW = datetime(2026, 6, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[GitHubServer]:
    with GitHubServer(page_size_cap=10) as github:
        yield github


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(server: GitHubServer, sleeps: list[float]) -> Iterator[GitHubClient]:
    with GitHubClient(
        server.repository,
        token=server.token,
        base_url=server.url,
        sleep=sleeps.append,
        clock=lambda: NOW,
    ) as github:
        yield github


def test_issue_lifecycle(client: GitHubClient, server: GitHubServer) -> None:
    """Create, read, update, close: each change is visible on the server and returned."""
    created = client.create_issue("DLQ triage", "body one", labels=["triage"])
    assert (created.number, created.title, created.labels) == (1, "DLQ triage", ("triage",))
    assert created.user == server.login
    updated = client.update_issue(1, title="DLQ triage (2)", body="body two", labels=["a", "b"])
    assert (updated.title, updated.body, updated.labels) == (
        "DLQ triage (2)",
        "body two",
        ("a", "b"),
    )
    assert client.update_issue(1, state="closed").state == "closed"
    assert client.get_issue(1).state == "closed"
    assert server.issues[1]["body"] == "body two"


def test_find_open_issues_by_label_follows_pagination(
    client: GitHubClient, server: GitHubServer
) -> None:
    """Open issues carrying the label are found across Link-header pages; others are not."""
    for i in range(25):
        server.add_issue(f"report {i}", labels=["report"])
    server.add_issue("other", labels=["triage"])
    closed = server.add_issue("closed report", labels=["report"])
    closed["state"] = "closed"
    found = client.find_open_issues("report")
    assert len(found) == 25
    assert all("report" in issue.labels for issue in found)
    assert len(server.requests_to("GET", r"/issues$")) == 3


def test_find_open_issues_needs_every_label(client: GitHubClient, server: GitHubServer) -> None:
    """Several labels are combined with AND, as GitHub does."""
    server.add_issue("both", labels=["approval", "run-1"])
    server.add_issue("one", labels=["approval"])
    assert [i.title for i in client.find_open_issues(["approval", "run-1"])] == ["both"]


def test_comments_and_since(client: GitHubClient, server: GitHubServer) -> None:
    """Comments come back oldest first with their author; since drops older ones."""
    client.create_issue("approval")
    server.now = NOW - timedelta(hours=1)
    server.add_comment(1, "/approve", user="alice")
    server.now = NOW
    mine = client.comment(1, "approved by alice")
    assert mine.user == server.login
    everything = client.list_comments(1)
    assert [(c.user, c.body) for c in everything] == [
        ("alice", "/approve"),
        (server.login, "approved by alice"),
    ]
    assert [c.body for c in client.list_comments(1, since=NOW)] == ["approved by alice"]


def test_labels_add_and_remove(client: GitHubClient, server: GitHubServer) -> None:
    """Labels are added and removed; removing an absent label is not an error by default."""
    client.create_issue("x", labels=["waiting"])
    assert client.add_labels(1, ["approved"]) == ["waiting", "approved"]
    client.remove_label(1, "waiting")
    assert server.labels_of(1) == ["approved"]
    client.remove_label(1, "waiting")
    with pytest.raises(GitHubNotFound):
        client.remove_label(1, "waiting", missing_ok=False)
    with pytest.raises(GitHubNotFound):
        client.remove_label(99, "waiting")


def test_labels_with_spaces_are_quoted(client: GitHubClient, server: GitHubServer) -> None:
    """A label name with spaces and slashes is removed by its exact name."""
    client.create_issue("x", labels=["needs review/ops"])
    client.remove_label(1, "needs review/ops")
    assert server.labels_of(1) == []


def test_sends_bearer_token_and_api_headers(client: GitHubClient, server: GitHubServer) -> None:
    """Every request carries the token as a Bearer credential and the API version."""
    client.create_issue("x")
    request = server.requests[-1]
    assert request.headers["authorization"] == f"Bearer {server.token}"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"


def test_enterprise_base_url_with_api_prefix(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    """GITHUB_API_URL=https://host/api/v3 works, configured from the environment alone."""
    with GitHubServer(prefix="/api/v3") as enterprise:
        enterprise.configure_env(monkeypatch)
        with GitHubClient(sleep=sleeps.append) as github:
            assert github.create_issue("on GHE").number == 1
        assert enterprise.requests[0].path == "/repos/acme/ops/issues"


def test_token_argument_overrides_environment(
    server: GitHubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token passed to the constructor wins over GITHUB_TOKEN."""
    server.configure_env(monkeypatch)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrongwrongwrongwrongwrongwrong0000")
    with GitHubClient(token=server.token) as github:
        assert github.create_issue("x").number == 1


@pytest.mark.parametrize(
    ("status", "error_type", "hint"),
    [
        pytest.param(401, GitHubAuthError, "check GITHUB_TOKEN", id="401"),
        pytest.param(403, GitHubPermissionError, "lacks permission", id="403"),
        pytest.param(404, GitHubNotFound, "GITHUB_REPOSITORY=acme/ops", id="404"),
        pytest.param(422, GitHubValidationError, "Validation Failed", id="422"),
    ],
)
def test_typed_errors_with_clear_messages(
    client: GitHubClient,
    server: GitHubServer,
    status: int,
    error_type: type[GitHubError],
    hint: str,
) -> None:
    """Each failure status raises its own GitHubError subclass with a useful message."""
    server.script(status, method="POST")
    with pytest.raises(error_type) as exc:
        client.create_issue("x")
    assert exc.value.status == status
    assert hint in str(exc.value)
    assert "POST /repos/acme/ops/issues" in str(exc.value)


def test_wrong_token_is_an_auth_error_without_the_token(server: GitHubServer) -> None:
    """A token GitHub does not know → GitHubAuthError; the token is nowhere in it."""
    token = "ghp_" + "Z" * 36
    with GitHubClient(server.repository, token=token, base_url=server.url) as github:
        with pytest.raises(GitHubAuthError) as exc:
            github.get_issue(1)
        assert token not in str(exc.value)
        assert token not in repr(exc.value)
        assert token not in repr(github)


def test_validation_error_lists_the_fields(client: GitHubClient) -> None:
    """A 422 names the rejected field and keeps GitHub's error list."""
    with pytest.raises(GitHubValidationError) as exc:
        client.create_issue("   ")
    assert "Issue title missing_field" in str(exc.value)
    assert exc.value.errors == [{"resource": "Issue", "field": "title", "code": "missing_field"}]


@pytest.mark.parametrize(
    ("status", "headers", "expected_sleep"),
    [
        pytest.param(
            403,
            {"reset_epoch": int((NOW + timedelta(seconds=30)).timestamp())},
            31.0,
            id="primary-403-reset",
        ),
        pytest.param(
            429,
            {"reset_epoch": int((NOW + timedelta(seconds=5)).timestamp())},
            6.0,
            id="primary-429-reset",
        ),
        pytest.param(403, {"retry_after": 7}, 7.0, id="secondary-403-retry-after"),
        pytest.param(429, {"retry_after": 2}, 2.0, id="429-retry-after"),
    ],
)
def test_rate_limits_are_waited_out_then_retried(  # noqa: PLR0917 - fixtures + a table row
    client: GitHubClient,
    server: GitHubServer,
    sleeps: list[float],
    status: int,
    headers: dict[str, int],
    expected_sleep: float,
) -> None:
    """A rate-limited call sleeps as long as GitHub says, then succeeds exactly once."""
    server.rate_limit(status=status, **headers)  # type: ignore[arg-type]
    issue = client.create_issue("after the limit")
    assert sleeps == [expected_sleep]
    assert issue.number == 1
    assert len(server.issues) == 1


def test_rate_limit_retries_are_bounded(
    client: GitHubClient, server: GitHubServer, sleeps: list[float]
) -> None:
    """A limit that never lifts ends in GitHubRateLimited after max_retries waits."""
    server.rate_limit(retry_after=1, times=100)
    with pytest.raises(GitHubRateLimited) as exc:
        client.get_issue(1)
    assert sleeps == [1.0, 1.0, 1.0]
    assert len(server.requests) == 4
    assert exc.value.status == 403


def test_rate_limit_reset_too_far_away_is_not_waited(
    client: GitHubClient, server: GitHubServer, sleeps: list[float]
) -> None:
    """A reset an hour away fails at once with reset_at, instead of blocking for an hour."""
    reset = NOW + timedelta(hours=1)
    server.rate_limit(reset_epoch=int(reset.timestamp()))
    with pytest.raises(GitHubRateLimited) as exc:
        client.find_open_issues("x")
    assert sleeps == []
    assert exc.value.reset_at == reset


def test_plain_403_is_not_mistaken_for_a_rate_limit(
    client: GitHubClient, sleeps: list[float], server: GitHubServer
) -> None:
    """403 without rate-limit headers is a permission error, not retried."""
    server.script(403)
    with pytest.raises(GitHubPermissionError):
        client.get_issue(1)
    assert sleeps == []


def test_server_errors_retry_reads_not_writes(
    client: GitHubClient, server: GitHubServer, sleeps: list[float]
) -> None:
    """A 503 on GET is retried with backoff; a 503 on POST is not (it could duplicate)."""
    server.add_issue("x")
    server.script(503, method="GET", times=2)
    assert client.get_issue(1).title == "x"
    assert sleeps == [1.0, 2.0]
    server.script(503, method="POST")
    with pytest.raises(GitHubUnavailable):
        client.comment(1, "hello")
    assert server.comments[1] == []


def test_unreachable_server_is_unavailable(sleeps: list[float]) -> None:
    """A closed port → GitHubUnavailable after bounded retries, not an httpx error."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    github = GitHubClient("acme/ops", token="t0ken", base_url=f"http://127.0.0.1:{port}")
    github._sleep = sleeps.append
    with pytest.raises(GitHubUnavailable, match="cannot reach GitHub"):
        github.get_issue(1)
    assert len(sleeps) == 3


@pytest.mark.parametrize(
    ("env", "error_type", "message"),
    [
        pytest.param({"GITHUB_REPOSITORY": "a/b"}, GitHubAuthError, "GITHUB_TOKEN", id="no-token"),
        pytest.param({"GITHUB_TOKEN": "t"}, GitHubConfigError, "GITHUB_REPOSITORY", id="no-repo"),
        pytest.param(
            {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "just-a-name"},
            GitHubConfigError,
            "'owner/name'",
            id="bad-repo",
        ),
        pytest.param(
            {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "a/b", "GITHUB_API_URL": "ftp://x"},
            GitHubConfigError,
            "GITHUB_API_URL",
            id="bad-url",
        ),
    ],
)
def test_configuration_errors(
    env: dict[str, str], error_type: type[GitHubError], message: str
) -> None:
    """Missing or malformed configuration raises a GitHubError naming the variable."""
    with pytest.raises(error_type, match=message):
        GitHubClient(env=env)


def test_token_never_logged(
    client: GitHubClient,
    server: GitHubServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Retries and failures are logged without the token or the Authorization header."""
    caplog.set_level(logging.DEBUG)
    server.rate_limit(retry_after=1)
    server.script(404)
    with pytest.raises(GitHubNotFound) as exc:
        client.get_issue(5)
    assert caplog.records, "the retry should have been logged"
    assert server.token not in caplog.text
    assert server.token not in str(exc.value)
    assert server.token not in repr(client)


def test_issue_events_tell_who_labeled(client: GitHubClient, server: GitHubServer) -> None:
    """Label changes by people on GitHub come back as events with their actor."""
    client.create_issue("approval for run-1", labels=["approval"])
    server.add_label(1, "approved", user="alice")
    client.remove_label(1, "approval")
    client.update_issue(1, state="closed")
    events = client.list_issue_events(1)
    assert [(e.event, e.actor, e.label) for e in events] == [
        ("labeled", server.login, "approval"),
        ("labeled", "alice", "approved"),
        ("unlabeled", server.login, "approval"),
        ("closed", server.login, None),
    ]
    assert len({e.id for e in events}) == 4
