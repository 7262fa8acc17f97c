"""Structured logs: Cloud Logging's JSON shape, request trace and labels, and no secret written."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from shared import logs

GH = "ghp_" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5"
TRACE_ID = "105445aa7843bc8bf206b12000100000"


class _CapturedStderr:
    """What reached sys.stderr so far, read like a StringIO."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self._text = ""

    def getvalue(self) -> str:
        self._text += self._capsys.readouterr().err
        return self._text


@pytest.fixture
def written(capsys: pytest.CaptureFixture[str]) -> Iterator[_CapturedStderr]:
    """What ``shared.logs`` writes: its handler writes to the current sys.stderr."""
    logs.configure("DEBUG")
    yield _CapturedStderr(capsys)
    logs.configure("INFO")


def _entries(stream: _CapturedStderr) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_log_line_is_one_json_object_in_cloud_loggings_shape(written: _CapturedStderr) -> None:
    """severity, message, an ISO-8601 UTC time and the logger's name, one object per line."""
    logs.get_logger("jobs").info("run %s finished", "20260627T0030Z-latency")
    [entry] = _entries(written)
    assert entry["severity"] == "INFO"
    assert entry["message"] == "run 20260627T0030Z-latency finished"
    assert entry["logger"] == "opsplane.jobs"
    assert datetime.fromisoformat(entry["time"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert "logging.googleapis.com/trace" not in entry
    assert "logging.googleapis.com/labels" not in entry


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        pytest.param(logging.DEBUG, "DEBUG", id="debug"),
        pytest.param(logging.INFO, "INFO", id="info"),
        pytest.param(logging.WARNING, "WARNING", id="warning"),
        pytest.param(logging.ERROR, "ERROR", id="error"),
        pytest.param(logging.CRITICAL, "CRITICAL", id="critical"),
    ],
)
def test_python_levels_map_to_cloud_logging_severities(
    written: _CapturedStderr, level: int, severity: str
) -> None:
    """Each Python level is written with the severity name Cloud Logging understands."""
    logger = logs.get_logger("levels")
    logging.getLogger("opsplane").setLevel(logging.DEBUG)  # get_logger re-applies the env level
    logger.log(level, "x")
    assert _entries(written)[0]["severity"] == severity


def test_the_request_trace_and_request_id_label_are_attached(written: _CapturedStderr) -> None:
    """Inside request_context, lines carry the trace and span from X-Cloud-Trace-Context."""
    logger = logs.get_logger("edge")
    with logs.request_context(request_id="req-42", trace_header=f"{TRACE_ID}/1;o=1"):
        assert logs.current_request_id() == "req-42"
        logger.warning("slow upstream")
    logger.info("after the request")
    inside, after = _entries(written)
    assert inside["logging.googleapis.com/trace"] == TRACE_ID
    assert inside["logging.googleapis.com/spanId"] == "1"
    assert inside["logging.googleapis.com/labels"] == {"request_id": "req-42"}
    assert "logging.googleapis.com/trace" not in after
    assert logs.current_request_id() is None


def test_with_a_project_the_trace_is_the_full_resource_name() -> None:
    """With GOOGLE_CLOUD_PROJECT known, the trace reads projects/<p>/traces/<id>."""
    formatter = logs.CloudLoggingFormatter(project="acme-prod")
    record = logging.LogRecord("opsplane.t", logging.INFO, __file__, 1, "m", None, None)
    with logs.request_context(request_id="r", trace_header=TRACE_ID):
        entry = json.loads(formatter.format(record))
    assert entry["logging.googleapis.com/trace"] == f"projects/acme-prod/traces/{TRACE_ID}"
    assert "logging.googleapis.com/spanId" not in entry


def test_structured_fields_and_extra_labels_are_written(written: _CapturedStderr) -> None:
    """extra={"fields": ...} becomes top-level keys and extra={"labels": ...} joins the labels."""
    with logs.request_context(request_id="req-7"):
        logs.get_logger("runlog").info(
            "recorded",
            extra={"fields": {"job": "latency", "duration_ms": 12}, "labels": {"job": "x"}},
        )
    [entry] = _entries(written)
    assert entry["job"] == "latency"
    assert entry["duration_ms"] == 12
    assert entry["logging.googleapis.com/labels"] == {"request_id": "req-7", "job": "x"}


def test_a_secret_in_the_message_or_its_arguments_is_never_written(
    written: _CapturedStderr,
) -> None:
    """Tokens, passwords and DSNs in the message, formatted in or literal, are replaced."""
    logger = logs.get_logger("leaky")
    logger.info("pushing with %s", GH)
    logger.info("connect postgres://app:s3cr3t@db:5432/app password=hunter2")
    output = written.getvalue()
    for secret in (GH, "s3cr3t", "hunter2"):
        assert secret not in output
    first, second = _entries(written)
    assert first["message"] == "pushing with [REDACTED_GH_TOKEN]"
    assert second["message"] == (
        "connect postgres://[REDACTED_DB_DSN]@db:5432/app password=[REDACTED_DB_DSN]"
    )


def test_a_secret_in_structured_fields_is_never_written(written: _CapturedStderr) -> None:
    """Secret-named fields lose their value; secrets inside other fields are redacted by shape."""
    fields = {
        "password": "hunter2",
        "headers": {"Authorization": "Bearer abc.def.ghi", "Accept": "application/json"},
        "params": {"note": f"token {GH}", "retries": 3},
    }
    logs.get_logger("leaky").info("request", extra={"fields": fields})
    output = written.getvalue()
    for secret in ("hunter2", "abc.def.ghi", GH):
        assert secret not in output
    [entry] = _entries(written)
    assert entry["password"] == "[REDACTED]"
    assert entry["headers"] == {"Authorization": "[REDACTED]", "Accept": "application/json"}
    assert entry["params"] == {"note": "token [REDACTED_GH_TOKEN]", "retries": 3}


def _push() -> None:
    raise RuntimeError("push rejected for ghp_Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5")


def test_a_secret_in_an_exception_traceback_is_never_written(written: _CapturedStderr) -> None:
    """logger.exception: the traceback (message and quoted source lines) is redacted."""
    try:
        _push()
    except RuntimeError:
        logs.get_logger("leaky").exception("push failed")
    output = written.getvalue()
    assert GH not in output
    [entry] = _entries(written)
    assert entry["severity"] == "ERROR"
    assert "Traceback (most recent call last)" in entry["stack_trace"]
    assert "RuntimeError: push rejected for [REDACTED_GH_TOKEN]" in entry["stack_trace"]


def test_a_secret_in_extra_labels_is_never_written(written: _CapturedStderr) -> None:
    """Labels are data leaving the system too."""
    logs.get_logger("leaky").info("x", extra={"labels": {"token": GH}})
    assert GH not in written.getvalue()


def test_log_lines_follow_a_replaced_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """The handler writes to the current sys.stderr, so a redirect after start-up sees the lines."""
    logs.get_logger("follow").warning("visible after the redirect")
    assert "visible after the redirect" in capsys.readouterr().err
