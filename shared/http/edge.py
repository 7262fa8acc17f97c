"""One wrapper turns a router into a functions-framework HTTP function.

It reads the body under a size limit, gives every response a request id,
turns typed errors into ``{"error", "message"}`` JSON with the right status,
and keeps everything else away from functions-framework's crash handler: an
unexpected exception is logged (redacted) and answered with a 500 that says
nothing about the internals.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.http.errors import (
    BadRequest,
    HttpError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from shared.settings import SettingsError
from shared.storage.errors import StoreMisconfigured, StoreUnavailable

if TYPE_CHECKING:
    import flask

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_log = logs.get_logger("opsplane.http")


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only request headers."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = {key.lower(): value for key, value in items}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Any:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items


@dataclass(frozen=True)
class Request:
    """What a handler sees: no framework types, so handlers test without one."""

    method: str
    path: str
    headers: Headers
    query: Mapping[str, str]
    body: bytes
    request_id: str
    path_params: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON; a clear 400 or 415 when it is not."""
        content_type = self.headers.get("content-type", "application/json")
        if "json" not in content_type.lower():
            raise UnsupportedMediaType(f"expected application/json, got {content_type!r}")
        if not self.body:
            raise BadRequest("the request body is empty; expected a JSON document")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"the request body is not valid JSON: {exc}") from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object (not a list or a scalar)."""
        data = self.json()
        if not isinstance(data, dict):
            raise BadRequest("the request body must be a JSON object")
        return data

    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer ...`` header, if any."""
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()


@dataclass
class Response:
    """A handler's answer: JSON by default, or raw text/bytes with a content type."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str) and not self.content_type.endswith("json"):
            return self.body.encode()
        return json.dumps(self.body, separators=(",", ":"), default=str).encode()


Handler = Callable[[Request], Response]
_PARAM = re.compile(r"<([a-z_]+)>")


class Router:
    """Method + path pattern routing; ``<name>`` matches one path segment."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        regex = re.compile("^" + _PARAM.sub(r"(?P<\1>[^/]+)", pattern.rstrip("/")) + "/?$")

        def register(handler: Handler) -> Handler:
            self._routes.append((method.upper(), regex, pattern, handler))
            return handler

        return register

    @property
    def patterns(self) -> list[tuple[str, str]]:
        """(method, pattern) for every route, for specs and consistency tests."""
        return [(method, pattern) for method, _, pattern, _ in self._routes]

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed: list[str] = []
        for route_method, regex, _, handler in self._routes:
            match = regex.match(path)
            if match is None:
                continue
            if route_method == method or (method == "HEAD" and route_method == "GET"):
                return handler, match.groupdict()
            allowed.append(route_method)
        if allowed:
            raise MethodNotAllowed(
                f"{method} is not allowed on {path}",
                details={"allow": sorted(set(allowed))},
            )
        raise NotFound(f"no route for {method} {path}")


def error_response(error: HttpError) -> Response:
    """The JSON body and headers every typed error is answered with."""
    body: dict[str, Any] = {"error": error.code, "message": error.message}
    body.update(error.details)
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(error.details.get("allow", []))
    return Response(body, error.status, headers)


def _translate(exc: Exception) -> HttpError:
    """Errors from the layers below, as the status a caller should see."""
    if isinstance(exc, HttpError):
        return exc
    if isinstance(exc, StoreUnavailable):
        return ServiceUnavailable("the object store is unavailable; retry later", retry_after=5)
    if isinstance(exc, StoreMisconfigured | SettingsError):
        return HttpError("the service is misconfigured; see its logs", code="misconfigured")
    return HttpError("internal error; see the service logs for the request id")


def read_body(stream: Any, content_length: int | None, limit: int) -> bytes:
    """Read at most ``limit`` bytes; 413 as soon as the body is known to exceed it."""
    if content_length is not None and content_length > limit:
        raise PayloadTooLarge(f"the body is {content_length} bytes; the limit is {limit}")
    data: bytes = stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the body exceeds the limit of {limit} bytes")
    return data


def handle(router: Router, request: Request) -> Response:
    """Route and run a request; every exception becomes a response."""
    try:
        handler, params = router.resolve(request.method, request.path)
        return handler(
            Request(
                request.method,
                request.path,
                request.headers,
                request.query,
                request.body,
                request.request_id,
                params,
            )
        )
    except Exception as exc:  # noqa: BLE001 - the one place every error becomes a response
        error = _translate(exc)
        if error.status >= 500:
            _log.error(
                "request failed",
                extra={"fields": {"path": request.path, "error": repr(exc)}},
                exc_info=exc if not isinstance(exc, HttpError) else None,
            )
        return error_response(error)


def http_function(
    router: Router, *, max_body_bytes: int | Callable[[], int] = DEFAULT_MAX_BODY_BYTES
) -> Callable[[flask.Request], flask.Response]:
    """Wrap a router as the target functions-framework serves."""

    def function(flask_request: flask.Request) -> flask.Response:
        import flask as _flask

        started = time.perf_counter()
        request_id = flask_request.headers.get("X-Request-Id") or uuid.uuid4().hex
        trace = flask_request.headers.get("X-Cloud-Trace-Context")
        with logs.request_context(request_id=request_id, trace_header=trace):
            limit = max_body_bytes() if callable(max_body_bytes) else max_body_bytes
            try:
                body = read_body(flask_request.stream, flask_request.content_length, limit)
            except HttpError as exc:
                response = error_response(exc)
            else:
                request = Request(
                    method=flask_request.method.upper(),
                    path=flask_request.path,
                    headers=Headers(flask_request.headers.items()),
                    query=dict(flask_request.args.items()),
                    body=body,
                    request_id=request_id,
                )
                response = handle(router, request)
            payload = b"" if flask_request.method == "HEAD" else response.encode()
            out = _flask.Response(
                payload, status=response.status, content_type=response.content_type
            )
            for key, value in response.headers.items():
                out.headers[key] = value
            out.headers["X-Request-Id"] = request_id
            # Cloud Run logs every request already; ours carry the request id at DEBUG.
            _log.debug(
                "request",
                extra={
                    "fields": {
                        "httpRequest": {
                            "requestMethod": flask_request.method,
                            "requestUrl": flask_request.path,
                            "status": response.status,
                            "latency": f"{time.perf_counter() - started:.6f}s",
                        }
                    }
                },
            )
            return out

    return function
