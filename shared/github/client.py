"""The httpx client for GitHub's REST API: issues, comments, labels, events."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from shared import logs
from shared.clock import Clock, isoformat, utcnow
from shared.redaction import redact_text

if TYPE_CHECKING:
    import httpx

from shared.github.errors import (
    GitHubAuthError,
    GitHubConfigError,
    GitHubError,
    GitHubNotFound,
    GitHubPermissionError,
    GitHubRateLimited,
    GitHubUnavailable,
    GitHubValidationError,
)
from shared.github.models import Comment, Issue, IssueEvent, _label_names

DEFAULT_API_URL = "https://api.github.com"
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
_log = logs.get_logger("opsplane.github")


class GitHubClient:
    """Issues, comments and labels of one repository.

    ``token``, ``repository`` and ``base_url`` default to ``GITHUB_TOKEN``,
    ``GITHUB_REPOSITORY`` and ``GITHUB_API_URL`` (GitHub Enterprise:
    ``https://host/api/v3``). ``transport`` and ``sleep`` are for tests.
    """

    def __init__(
        self,
        repository: str | None = None,
        *,
        token: str | None = None,
        base_url: str | None = None,
        env: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utcnow,
        max_retries: int = 3,
        max_wait_seconds: float = 60.0,
        timeout_seconds: float = 10.0,
    ) -> None:
        import httpx

        environ = os.environ if env is None else env
        token = token or environ.get("GITHUB_TOKEN", "").strip()
        if not token:
            raise GitHubAuthError("GITHUB_TOKEN is not set; a token with issues access is needed")
        repository = repository or environ.get("GITHUB_REPOSITORY", "").strip()
        if not _REPOSITORY.match(repository):
            raise GitHubConfigError(
                f"GITHUB_REPOSITORY must be 'owner/name', got {repository!r}"
                if repository
                else "GITHUB_REPOSITORY is not set; expected 'owner/name'"
            )
        base_url = (
            base_url or environ.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL
        ).rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise GitHubConfigError(f"GITHUB_API_URL must be an http(s) URL, got {base_url!r}")
        self.repository = repository
        self.base_url = base_url
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._sleep = sleep
        self._clock = clock
        self._max_retries = max_retries
        self._max_wait = max_wait_seconds
        self._http = httpx.Client(
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "opsplane",
            },
            timeout=timeout_seconds,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"GitHubClient(repository={self.repository!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Issues

    def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue:
        """Open an issue."""
        payload: dict[str, Any] = {"title": title, "body": body}
        if labels:
            payload["labels"] = list(labels)
        return Issue.from_api(self._json("POST", self._repo("/issues"), json=payload))

    def get_issue(self, number: int) -> Issue:
        """One issue with its labels."""
        return Issue.from_api(self._json("GET", self._repo(f"/issues/{int(number)}")))

    def update_issue(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        labels: Sequence[str] | None = None,
        state: str | None = None,
    ) -> Issue:
        """Change an issue's title, body, labels (replacing them) or state."""
        if state is not None and state not in ("open", "closed"):
            raise ValueError(f"state must be 'open' or 'closed', got {state!r}")
        payload: dict[str, Any] = {}
        if title is not None:
            payload["title"] = title
        if body is not None:
            payload["body"] = body
        if labels is not None:
            payload["labels"] = list(labels)
        if state is not None:
            payload["state"] = state
        return Issue.from_api(
            self._json("PATCH", self._repo(f"/issues/{int(number)}"), json=payload)
        )

    def find_open_issues(self, labels: str | Sequence[str]) -> list[Issue]:
        """Open issues carrying every label given (pull requests left out)."""
        names = [labels] if isinstance(labels, str) else list(labels)
        params = {"state": "open", "labels": ",".join(names), "per_page": "100"}
        return [
            Issue.from_api(item)
            for item in self._paginate(self._repo("/issues"), params)
            if "pull_request" not in item
        ]

    # Comments

    def comment(self, number: int, body: str) -> Comment:
        """Add a comment to an issue."""
        data = self._json(
            "POST", self._repo(f"/issues/{int(number)}/comments"), json={"body": body}
        )
        return Comment.from_api(data)

    def list_comments(self, number: int, *, since: datetime | None = None) -> list[Comment]:
        """An issue's comments, oldest first; ``since`` keeps those updated at or after it."""
        params = {"per_page": "100"}
        if since is not None:
            params["since"] = isoformat(since)
        return [
            Comment.from_api(item)
            for item in self._paginate(self._repo(f"/issues/{int(number)}/comments"), params)
        ]

    def list_issue_events(self, number: int) -> list[IssueEvent]:
        """An issue's events, oldest first: who added or removed which label, when."""
        return [
            IssueEvent.from_api(item)
            for item in self._paginate(
                self._repo(f"/issues/{int(number)}/events"), {"per_page": "100"}
            )
        ]

    # Labels

    def add_labels(self, number: int, labels: Sequence[str]) -> list[str]:
        """Add labels to an issue; returns every label it now carries."""
        data = self._request(
            "POST", self._repo(f"/issues/{int(number)}/labels"), json={"labels": list(labels)}
        ).json()
        return list(_label_names(data))

    def remove_label(self, number: int, label: str, *, missing_ok: bool = True) -> None:
        """Remove one label; one the issue lacks is fine unless ``missing_ok=False``."""
        path = self._repo(f"/issues/{int(number)}/labels/{quote(label, safe='')}")
        try:
            self._request("DELETE", path)
        except GitHubNotFound:
            if not missing_ok:
                raise
            # Tell "label absent" from "issue absent": the latter must still surface.
            self.get_issue(number)

    # Plumbing

    def _repo(self, path: str) -> str:
        return f"{self.base_url}/repos/{self.repository}{path}"

    def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        data = self._request(method, url, **kwargs).json()
        if not isinstance(data, dict):
            raise GitHubError(f"{method} {self._path(url)}: expected a JSON object from GitHub")
        return data

    def _paginate(self, url: str, params: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        next_url: str | None = url
        query: Mapping[str, str] | None = params
        while next_url:
            response = self._request("GET", next_url, params=query)
            items = response.json()
            if not isinstance(items, list):
                raise GitHubError(f"GET {self._path(next_url)}: expected a JSON list from GitHub")
            yield from items
            next_url = response.links.get("next", {}).get("url")
            query = None  # the next link carries its own query
            if next_url and not next_url.startswith(self._origin + "/"):
                # Never send the token to a host other than the configured one.
                raise GitHubError(
                    f"refusing to follow a pagination link to another host: {next_url}"
                )

    def _path(self, url: str) -> str:
        return urlsplit(url).path

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        import httpx

        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                if method == "GET" and attempt <= self._max_retries:
                    self._wait(min(2.0 ** (attempt - 1), self._max_wait), method, url, None)
                    continue
                raise GitHubUnavailable(
                    f"{method} {self._path(url)}: cannot reach GitHub: {type(exc).__name__}"
                ) from None
            if response.is_success:
                return response
            wait = self._rate_limit_wait(response)
            if wait is not None:
                if attempt > self._max_retries or wait > self._max_wait:
                    raise GitHubRateLimited(
                        f"{method} {self._path(url)}: GitHub rate limit; retry after "
                        f"{wait:.0f}s ({attempt - 1} waits already)",
                        status=response.status_code,
                        reset_at=self._reset_at(response),
                    )
                self._wait(wait, method, url, response.status_code)
                continue
            if (
                response.status_code in _RETRYABLE_STATUS
                and method == "GET"
                and attempt <= self._max_retries
            ):
                self._wait(
                    min(2.0 ** (attempt - 1), self._max_wait), method, url, response.status_code
                )
                continue
            raise self._error(method, url, response)

    def _wait(self, seconds: float, method: str, url: str, status: int | None) -> None:
        _log.warning(
            "github call will be retried",
            extra={
                "fields": {
                    "method": method,
                    "path": self._path(url),
                    "status": status,
                    "wait_seconds": round(seconds, 3),
                }
            },
        )
        self._sleep(seconds)

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait when the response is a rate limit, else None."""
        if response.status_code not in (403, 429):
            return None
        retry_after = response.headers.get("retry-after", "").strip()
        if retry_after:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                return 60.0
        if response.headers.get("x-ratelimit-remaining", "").strip() == "0":
            reset_at = self._reset_at(response)
            if reset_at is None:
                return 60.0
            # One second of slack: GitHub's reset is a whole second, clocks drift.
            return max(0.0, (reset_at - self._clock()).total_seconds()) + 1.0
        if response.status_code == 429:
            return 60.0
        return None

    @staticmethod
    def _reset_at(response: httpx.Response) -> datetime | None:
        raw = response.headers.get("x-ratelimit-reset", "").strip()
        if not raw:
            return None
        try:
            return datetime.fromtimestamp(int(raw), UTC)
        except (ValueError, OverflowError, OSError):
            return None

    def _error(self, method: str, url: str, response: httpx.Response) -> GitHubError:
        status = response.status_code
        github_message = ""
        errors: list[Any] = []
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            github_message = str(data.get("message") or "")
            errors = list(data.get("errors") or [])
        where = f"{method} {self._path(url)}"
        said = redact_text(f": {github_message}" if github_message else "")
        if status == 401:
            return GitHubAuthError(
                f"{where}: GitHub rejected the token (401){said}; check GITHUB_TOKEN",
                status=status,
            )
        if status == 403:
            return GitHubPermissionError(
                f"{where}: the token lacks permission (403){said}; it needs issues read/write "
                f"on {self.repository}",
                status=status,
            )
        if status == 404:
            return GitHubNotFound(
                f"{where}: not found (404){said}; check GITHUB_REPOSITORY={self.repository} "
                "and that the token can see it",
                status=status,
            )
        if status == 422:
            details = "; ".join(_describe_validation(errors))
            return GitHubValidationError(
                f"{where}: GitHub rejected the request (422){said}"
                + (f" ({redact_text(details)})" if details else ""),
                errors=errors,
            )
        if status >= 500:
            return GitHubUnavailable(f"{where}: GitHub answered {status}{said}", status=status)
        return GitHubError(f"{where}: GitHub answered {status}{said}", status=status)


def _describe_validation(errors: Iterable[Any]) -> Iterator[str]:
    for error in errors:
        if isinstance(error, Mapping):
            parts = [str(error.get(k)) for k in ("resource", "field", "code") if error.get(k)]
            if error.get("message"):
                parts.append(str(error["message"]))
            yield " ".join(parts)
        else:
            yield str(error)
