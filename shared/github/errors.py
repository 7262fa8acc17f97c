"""The GitHub client's exception tree (drawn in the package docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any


class GitHubError(Exception):
    """A GitHub call failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class GitHubConfigError(GitHubError):
    """The client cannot be built from its configuration."""


class GitHubAuthError(GitHubError):
    """401: the token is missing, wrong or expired."""


class GitHubPermissionError(GitHubError):
    """403: the token is valid but may not do this."""


class GitHubNotFound(GitHubError):
    """404: the repository, issue or label does not exist or is not visible."""


class GitHubValidationError(GitHubError):
    """422: GitHub rejected the fields; ``errors`` holds its details."""

    def __init__(
        self, message: str, *, status: int | None = 422, errors: Sequence[Any] = ()
    ) -> None:
        super().__init__(message, status=status)
        self.errors = list(errors)


class GitHubRateLimited(GitHubError):
    """Still rate limited after the bounded waits; ``reset_at`` when GitHub said."""

    def __init__(
        self, message: str, *, status: int | None = None, reset_at: datetime | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.reset_at = reset_at


class GitHubUnavailable(GitHubError):
    """GitHub could not be reached or answered with a server error."""
