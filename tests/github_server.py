"""A loopback GitHub REST server for tests: issues, comments, labels.

Usage::

    with GitHubServer(token="ghp_test", repository="acme/ops") as github:
        github.configure_env(monkeypatch)      # GITHUB_API_URL / _TOKEN / _REPOSITORY
        ...                                    # code under test calls the client
        assert github.issues[1]["title"] == "..."
        assert [r.method for r in github.requests] == ["POST"]

It speaks the endpoints ``shared.github`` uses, under an optional prefix
(``/api/v3`` like GitHub Enterprise):

    POST   /repos/O/R/issues                     create (title required → 422)
    GET    /repos/O/R/issues?state&labels        list, paginated with Link headers
    GET    /repos/O/R/issues/N                   one issue
    PATCH  /repos/O/R/issues/N                   title, body, labels, state
    GET    /repos/O/R/issues/N/comments?since    paginated
    GET    /repos/O/R/issues/N/events            labeled / unlabeled / closed / reopened, paginated
    POST   /repos/O/R/issues/N/comments
    GET    /repos/O/R/issues/N/labels
    POST   /repos/O/R/issues/N/labels            add
    DELETE /repos/O/R/issues/N/labels/NAME       remove (404 when absent)

Every request needs ``Authorization: Bearer <token>`` (or ``token <token>``)
for one of ``tokens`` (token → login; the login authors issues and comments),
else 401. ``script(...)`` queues canned answers (401/403/404/422/429/5xx,
rate limits) that are served before the normal behaviour; ``add_comment`` and
``set_labels`` let a test act as another GitHub user.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class ScriptedResponse:
    """A canned answer served (``times`` times) to requests matching method and path."""

    method: str
    path: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    times: int


@dataclass
class _Page:
    items: list[dict[str, Any]]
    links: dict[str, str] = field(default_factory=dict)


class GitHubServer:
    """The server; ``url`` is the base URL to give the client."""

    def __init__(
        self,
        *,
        token: str = "ghp_loopbackTestToken000000000000000000",  # noqa: S107 - a fake token
        login: str = "opsplane-bot",
        repository: str = "acme/ops",
        prefix: str = "",
        page_size_cap: int = 100,
    ) -> None:
        self.tokens: dict[str, str] = {token: login}
        self.token = token
        self.login = login
        self.repository = repository
        self.prefix = prefix.rstrip("/")
        self.page_size_cap = page_size_cap
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.events: dict[int, list[dict[str, Any]]] = {}
        self._next_event_id = 900_000
        self.requests: list[RecordedRequest] = []
        self.now: datetime | None = None
        self._scripted: list[ScriptedResponse] = []
        self._next_comment_id = 1000
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    def start(self) -> GitHubServer:
        """Serve on 127.0.0.1 on a free port, in a daemon thread."""
        server = self

        class Handler(_Handler):
            github = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> GitHubServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of the API (with the prefix), e.g. http://127.0.0.1:PORT/api/v3."""
        assert self._httpd is not None, "the server is not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{self.prefix}"

    def configure_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point GITHUB_API_URL, GITHUB_TOKEN and GITHUB_REPOSITORY at this server."""
        monkeypatch.setenv("GITHUB_API_URL", self.url)
        monkeypatch.setenv("GITHUB_TOKEN", self.token)
        monkeypatch.setenv("GITHUB_REPOSITORY", self.repository)

    # Scripting and seeding

    def script(
        self,
        status: int,
        *,
        method: str = ".*",
        path: str = ".*",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (path regex, no prefix)."""
        if body is None:
            body = {"message": _DEFAULT_MESSAGES.get(status, "Scripted error")}
        with self._lock:
            self._scripted.append(
                ScriptedResponse(
                    method.upper(),
                    re.compile(path),
                    status,
                    body,
                    dict(headers or {}),
                    times,
                )
            )

    def rate_limit(
        self,
        *,
        reset_epoch: int | None = None,
        retry_after: int | None = None,
        status: int = 403,
        times: int = 1,
        path: str = ".*",
    ) -> None:
        """Answer as GitHub's primary (reset) or secondary (Retry-After) rate limit does."""
        headers: dict[str, str] = {}
        if reset_epoch is not None:
            headers.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset_epoch)})
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        message = "API rate limit exceeded" if reset_epoch else "secondary rate limit"
        self.script(status, path=path, body={"message": message}, headers=headers, times=times)

    def add_user(self, token: str, login: str) -> None:
        """Accept another token, acting as ``login``."""
        self.tokens[token] = login

    def add_issue(
        self, title: str, *, body: str = "", labels: list[str] | None = None, user: str = ""
    ) -> dict[str, Any]:
        """Create an issue directly, as if someone opened it on GitHub."""
        with self._lock:
            return self._create_issue(title, body, labels or [], user or self.login)

    def add_comment(self, number: int, body: str, *, user: str) -> dict[str, Any]:
        """Comment on an issue as ``user``, as if typed on GitHub."""
        with self._lock:
            return self._create_comment(number, body, user)

    def set_labels(self, number: int, labels: list[str], *, user: str = "") -> None:
        """Replace an issue's labels as ``user`` would on GitHub (events recorded)."""
        with self._lock:
            self._replace_labels(number, labels, user or self.login)

    def add_label(self, number: int, label: str, *, user: str) -> None:
        """Add one label as ``user``, as if clicked on GitHub."""
        with self._lock:
            self._replace_labels(number, [*self.labels_of(number), label], user)

    def labels_of(self, number: int) -> list[str]:
        """An issue's label names."""
        return [label["name"] for label in self.issues[number]["labels"]]

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        """Recorded requests matching a method and a path regex (no prefix)."""
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    # Behaviour (called under the lock)

    def _time(self) -> str:
        moment = self.now or datetime.now(UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _touch(self, issue: dict[str, Any]) -> None:
        issue["updated_at"] = self._time()

    def _event(self, number: int, event: str, user: str, label: str | None = None) -> None:
        self._next_event_id += 1
        entry: dict[str, Any] = {
            "id": self._next_event_id,
            "event": event,
            "actor": {"login": user},
            "created_at": self._time(),
        }
        if label is not None:
            entry["label"] = {"name": label, "color": "ededed"}
        self.events.setdefault(number, []).append(entry)

    def _replace_labels(self, number: int, labels: list[str], user: str) -> None:
        before = self.labels_of(number)
        after = list(dict.fromkeys(labels))
        for name in before:
            if name not in after:
                self._event(number, "unlabeled", user, name)
        for name in after:
            if name not in before:
                self._event(number, "labeled", user, name)
        self.issues[number]["labels"] = [_label(name) for name in after]
        self._touch(self.issues[number])

    def _create_issue(self, title: str, body: str, labels: list[str], user: str) -> dict[str, Any]:
        number = len(self.issues) + 1
        issue = {
            "number": number,
            "id": 10_000 + number,
            "title": title,
            "body": body,
            "state": "open",
            "labels": [_label(name) for name in labels],
            "user": {"login": user},
            "html_url": f"https://github.example/{self.repository}/issues/{number}",
            "created_at": self._time(),
            "updated_at": self._time(),
        }
        self.issues[number] = issue
        self.comments[number] = []
        self.events[number] = []
        for name in labels:
            self._event(number, "labeled", user, name)
        return issue

    def _create_comment(self, number: int, body: str, user: str) -> dict[str, Any]:
        self._next_comment_id += 1
        comment = {
            "id": self._next_comment_id,
            "body": body,
            "user": {"login": user},
            "created_at": self._time(),
            "updated_at": self._time(),
            "html_url": f"{self.issues[number]['html_url']}#issuecomment-{self._next_comment_id}",
        }
        self.comments[number].append(comment)
        self._touch(self.issues[number])
        return comment

    def _take_scripted(self, method: str, path: str) -> ScriptedResponse | None:
        for scripted in self._scripted:
            if scripted.method in (".*", method) and scripted.path.search(path):
                scripted.times -= 1
                if scripted.times <= 0:
                    self._scripted.remove(scripted)
                return scripted
        return None

    def dispatch(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON body, extra headers)."""
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, headers, body))
            scripted = self._take_scripted(method, path)
            if scripted is not None:
                return scripted.status, scripted.body, scripted.headers
            user = self._authenticate(headers.get("authorization", ""))
            if user is None:
                return 401, {"message": "Bad credentials"}, {}
            return self._route(method, path, query, body, user)

    def _authenticate(self, header: str) -> str | None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return None
        return self.tokens.get(token.strip())

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, user: str
    ) -> tuple[int, Any, dict[str, str]]:
        repo_prefix = f"/repos/{self.repository}/issues"
        if not path.startswith(repo_prefix):
            return 404, {"message": "Not Found"}, {}
        rest = [unquote(p) for p in path[len(repo_prefix) :].strip("/").split("/") if p]
        if not rest:
            if method == "POST":
                return self._post_issue(body, user)
            if method == "GET":
                return self._list_issues(path, query)
            return 404, {"message": "Not Found"}, {}
        if not rest[0].isdigit() or int(rest[0]) not in self.issues:
            return 404, {"message": "Not Found"}, {}
        number = int(rest[0])
        issue = self.issues[number]
        match rest[1:], method:
            case [], "GET":
                return 200, issue, {}
            case [], "PATCH":
                return self._patch_issue(issue, body, user)
            case ["comments"], "GET":
                return self._list_comments(path, number, query)
            case ["comments"], "POST":
                if not isinstance(body, dict) or not str(body.get("body") or "").strip():
                    return _validation("IssueComment", "body")
                return 201, self._create_comment(number, str(body["body"]), user), {}
            case ["labels"], "GET":
                return 200, issue["labels"], {}
            case ["events"], "GET":
                return self._page(path, query, self.events[number])
            case ["labels"], "POST":
                labels = body.get("labels") if isinstance(body, dict) else body
                if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                    return _validation("Label", "labels")
                self._replace_labels(number, [*self.labels_of(number), *labels], user)
                return 200, issue["labels"], {}
            case ["labels", name], "DELETE":
                if name not in self.labels_of(number):
                    return 404, {"message": "Label does not exist"}, {}
                remaining = [label for label in self.labels_of(number) if label != name]
                self._replace_labels(number, remaining, user)
                return 200, issue["labels"], {}
        return 404, {"message": "Not Found"}, {}

    def _post_issue(self, body: Any, user: str) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not str(body.get("title") or "").strip():
            return _validation("Issue", "title")
        labels = body.get("labels") or []
        if not isinstance(labels, list):
            return _validation("Issue", "labels", code="invalid")
        issue = self._create_issue(str(body["title"]), str(body.get("body") or ""), labels, user)
        return 201, issue, {}

    def _patch_issue(
        self, issue: dict[str, Any], body: Any, user: str
    ) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict):
            return 400, {"message": "Problems parsing JSON"}, {}
        if "state" in body and body["state"] not in ("open", "closed"):
            return _validation("Issue", "state", code="invalid")
        if "title" in body and not str(body["title"] or "").strip():
            return _validation("Issue", "title")
        if "state" in body and body["state"] != issue["state"]:
            self._event(
                issue["number"], "closed" if body["state"] == "closed" else "reopened", user
            )
        for key in ("title", "body", "state"):
            if key in body:
                issue[key] = body[key]
        if "labels" in body:
            self._replace_labels(issue["number"], list(body["labels"]), user)
        self._touch(issue)
        return 200, issue, {}

    def _list_issues(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        state = query.get("state", "open")
        wanted = [name for name in query.get("labels", "").split(",") if name]
        items = [
            issue
            for issue in self.issues.values()
            if (state == "all" or issue["state"] == state)
            and all(name in [lb["name"] for lb in issue["labels"]] for name in wanted)
        ]
        # GitHub lists newest first by default.
        items.sort(key=lambda issue: issue["number"], reverse=True)
        return self._page(path, query, items)

    def _list_comments(
        self, path: str, number: int, query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        items = self.comments[number]
        since = query.get("since")
        if since:
            items = [c for c in items if c["updated_at"] >= since]
        return self._page(path, query, items)

    def _page(
        self, path: str, query: dict[str, str], items: list[dict[str, Any]]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", "30")), self.page_size_cap)
        page = max(1, int(query.get("page", "1")))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers: dict[str, str] = {}
        if page * per_page < len(items):
            next_query = "&".join(f"{k}={v}" for k, v in {**query, "page": str(page + 1)}.items())
            headers["Link"] = f'<{self.url}{path}?{next_query}>; rel="next"'
        return 200, chunk, headers


_DEFAULT_MESSAGES = {
    401: "Bad credentials",
    403: "Resource not accessible by integration",
    404: "Not Found",
    422: "Validation Failed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _label(name: str) -> dict[str, Any]:
    return {"name": name, "color": "ededed"}


def _validation(
    resource: str, field_name: str, *, code: str = "missing_field"
) -> tuple[int, Any, dict[str, str]]:
    return (
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": resource, "field": field_name, "code": code}],
        },
        {},
    )


class _Handler(BaseHTTPRequestHandler):
    github: GitHubServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        if self.github.prefix:
            if not path.startswith(self.github.prefix + "/"):
                self._send(404, {"message": "Not Found"}, {})
                return
            path = path[len(self.github.prefix) :]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(400, {"message": "Problems parsing JSON"}, {})
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, payload, extra = self.github.dispatch(
            self.command, path, dict(parse_qsl(parts.query)), headers, body
        )
        self._send(status, payload, extra)

    def _send(self, status: int, payload: Any, headers: Mapping[str, str]) -> None:
        data = b"" if status == 204 else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``requests`` instead."""


@pytest.fixture
def github_server() -> Iterator[GitHubServer]:
    """A started loopback GitHub server, stopped after the test."""
    with GitHubServer() as server:
        yield server
