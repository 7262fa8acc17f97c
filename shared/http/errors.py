"""Errors that reach HTTP carry their status and a stable machine-readable code.

    HttpError (500 internal)
    ├── BadRequest            400 bad_request
    ├── Unauthorized          401 unauthorized
    ├── Forbidden             403 forbidden
    ├── NotFound              404 not_found
    ├── MethodNotAllowed      405 method_not_allowed
    ├── Conflict              409 conflict
    ├── PayloadTooLarge       413 payload_too_large
    ├── UnsupportedMediaType  415 unsupported_media_type
    ├── TooManyRequests       429 too_many_requests (Retry-After)
    └── ServiceUnavailable    503 unavailable (Retry-After)

Domain code raises these (or its own subclasses with a more precise ``code``);
the edge wrapper turns them into ``{"error": code, "message": ...}``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HttpError(Exception):
    """An error with an HTTP status, a code and a message safe to show a caller."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.retry_after = retry_after
        self.details = details or {}


class BadRequest(HttpError):
    status = 400
    default_code = "bad_request"


class Unauthorized(HttpError):
    status = 401
    default_code = "unauthorized"


class Forbidden(HttpError):
    status = 403
    default_code = "forbidden"


class NotFound(HttpError):
    status = 404
    default_code = "not_found"


class MethodNotAllowed(HttpError):
    status = 405
    default_code = "method_not_allowed"


class Conflict(HttpError):
    status = 409
    default_code = "conflict"


class PayloadTooLarge(HttpError):
    status = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(HttpError):
    status = 415
    default_code = "unsupported_media_type"


class TooManyRequests(HttpError):
    status = 429
    default_code = "too_many_requests"


class ServiceUnavailable(HttpError):
    status = 503
    default_code = "unavailable"
