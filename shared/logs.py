"""Structured logs in Cloud Logging's JSON shape, redacted before they are written.

One JSON object per line on stderr: ``severity``, ``message``, ``time``, the
trace from ``X-Cloud-Trace-Context`` (so Cloud Logging groups a request's
lines), ``logging.googleapis.com/labels`` and any structured ``fields`` a caller
passes with ``extra={"fields": {...}}``. Message and fields both go through the
redactor: a secret that slips into a log call is never written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from shared import redaction

_context: ContextVar[dict[str, str] | None] = ContextVar("opsplane_log_context", default=None)
_configured = False


@contextlib.contextmanager
def request_context(*, request_id: str, trace_header: str | None = None) -> Iterator[None]:
    """Attach a request id and trace to every log line written inside the block."""
    values = {"request_id": request_id}
    if trace_header:
        trace_id, _, rest = trace_header.partition("/")
        values["trace_id"] = trace_id
        span = rest.split(";", 1)[0]
        if span:
            values["span_id"] = span
    token = _context.set(values)
    try:
        yield
    finally:
        _context.reset(token)


def current_request_id() -> str | None:
    """The request id of the request being served, if any."""
    values = _context.get()
    return values.get("request_id") if values else None


class CloudLoggingFormatter(logging.Formatter):
    """Formats records as the JSON lines Cloud Logging's agent parses."""

    def __init__(self, project: str | None = None) -> None:
        super().__init__()
        self._project = project

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": redaction.redact_text(record.getMessage()),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            # A field never overrides the entry's own keys (severity, message, ...).
            for key, value in redaction.redact_data(fields).items():
                entry.setdefault(key, value)
        context = _context.get() or {}
        labels = {"request_id": context["request_id"]} if "request_id" in context else {}
        labels.update(redaction.redact_data(getattr(record, "labels", None) or {}))
        if labels:
            entry["logging.googleapis.com/labels"] = labels
        if "trace_id" in context:
            trace = context["trace_id"]
            entry["logging.googleapis.com/trace"] = (
                f"projects/{self._project}/traces/{trace}" if self._project else trace
            )
            if "span_id" in context:
                entry["logging.googleapis.com/spanId"] = context["span_id"]
        if record.exc_info:
            entry["stack_trace"] = redaction.redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the moment of each record.

    Holding the stream seen at start-up would bypass anything that later
    replaces ``sys.stderr`` (test capture, a supervisor's redirect).
    """

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure(level: str | None = None) -> None:
    """Install the JSON handler on the ``opsplane`` logger once per process."""
    global _configured  # noqa: PLW0603 - logging handlers are process-wide by nature
    root = logging.getLogger("opsplane")
    if level is not None:
        root.setLevel(level.upper())
    if _configured:
        return
    if level is None:
        root.setLevel(os.environ.get("OPSPLANE_LOG_LEVEL", "INFO").upper())
    handler = _StderrHandler()
    handler.setFormatter(CloudLoggingFormatter(os.environ.get("GOOGLE_CLOUD_PROJECT")))
    root.addHandler(handler)
    root.propagate = False
    _configured = True


def get_logger(name: str) -> logging.Logger:
    """A logger under ``opsplane`` that writes Cloud Logging JSON."""
    configure()
    if not name.startswith("opsplane"):
        name = f"opsplane.{name}"
    return logging.getLogger(name)
