"""A small GitHub REST client (issues, comments, labels) over httpx.

    GitHubError                      any failure talking to GitHub
    ├── GitHubConfigError            GITHUB_REPOSITORY / GITHUB_API_URL missing or bad
    ├── GitHubAuthError         401  the token is missing, wrong or expired
    ├── GitHubPermissionError   403  the token may not do this (scopes, repo access)
    ├── GitHubNotFound          404  no such repository, issue or label (or no access to it)
    ├── GitHubValidationError   422  GitHub refused the fields sent
    ├── GitHubRateLimited            still rate limited after the bounded waits
    └── GitHubUnavailable            network failure or 5xx

Rate limits (403/429 with ``X-RateLimit-Remaining: 0`` and ``X-RateLimit-Reset``,
or ``Retry-After``) are waited out with the injected ``sleep`` and retried, a
bounded number of times. The token lives only in the httpx client's headers:
it is never logged, never part of an error message, never in a repr.
"""

from __future__ import annotations

from shared.github.client import DEFAULT_API_URL, GitHubClient
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
from shared.github.models import Comment, Issue, IssueEvent

__all__ = [
    "DEFAULT_API_URL",
    "Comment",
    "GitHubAuthError",
    "GitHubClient",
    "GitHubConfigError",
    "GitHubError",
    "GitHubNotFound",
    "GitHubPermissionError",
    "GitHubRateLimited",
    "GitHubUnavailable",
    "GitHubValidationError",
    "Issue",
    "IssueEvent",
]
