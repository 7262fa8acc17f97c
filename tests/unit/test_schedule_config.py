"""Schedule configuration: defaults, the JSON file, and errors that name the key."""

from __future__ import annotations

import json
from datetime import time
from pathlib import Path
from typing import Any

import pytest

from shared.schedule import Cadence, ScheduleConfigError, load_config, parse_config
from shared.schedule.config import SCHEMA_PATH


def test_defaults_are_opt_in_tokyo() -> None:
    """Without a file: disabled, Asia/Tokyo, the report jobs and the sweeper."""
    config = load_config({})
    assert (config.enabled, config.timezone, config.state_prefix()) == (
        False,
        "Asia/Tokyo",
        "schedule/",
    )
    assert set(config.jobs) >= {
        "daily_observability_report",
        "weekly_observability_report",
        "weekly_improvement_digest",
        "sweeper",
    }
    weekly = config.jobs["weekly_observability_report"]
    assert (weekly.cadence, weekly.dow, weekly.at) == (Cadence.WEEKLY, 1, time(9, 0))
    assert config.source == "defaults"


def test_file_from_environment_overrides_defaults(tmp_path: Path) -> None:
    """OPSPLANE_SCHEDULE_CONFIG is read; a listed default job inherits its other fields."""
    path = tmp_path / "schedule.json"
    path.write_text(
        json.dumps(
            {
                "enabled": True,
                "timezone": "America/New_York",
                "dashboardIssue": 42,
                "jobs": {
                    "daily_observability_report": {"at": "07:15", "postToIssue": True},
                    "latency": {"cadence": "every", "everyMinutes": 15},
                },
            }
        )
    )
    config = load_config({"OPSPLANE_SCHEDULE_CONFIG": str(path)})
    assert config.enabled
    assert config.dashboard_issue == 42
    assert sorted(config.jobs) == ["daily_observability_report", "latency"]
    daily = config.jobs["daily_observability_report"]
    assert (daily.cadence, daily.at, daily.post_to_issue) == (Cadence.DAILY, time(7, 15), True)
    assert config.jobs["latency"].every_minutes == 15
    assert config.jobs["latency"].describe() == "every 15 min"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param({"enable": True}, "enable: unknown key", id="unknown-top-level-key"),
        pytest.param(
            {"jobs": {"x": {"cadence": "daily", "time": "09:00"}}},
            "jobs.x.time: unknown key",
            id="unknown-job-key",
        ),
        pytest.param(
            {"redaction": {"pattern": ["x"]}},
            "redaction.pattern: unknown key",
            id="unknown-redaction-key",
        ),
        pytest.param(
            {"jobs": {"x": {"cadence": "hourly"}}},
            "jobs.x.cadence: 'hourly' is not one of",
            id="bad-cadence",
        ),
        pytest.param(
            {"jobs": {"x": {"cadence": "daily", "at": "25:00"}}},
            "jobs.x.at: '25:00' is not a time HH:MM",
            id="bad-at",
        ),
        pytest.param(
            {"jobs": {"x": {"cadence": "weekly", "dow": "monday"}}},
            "jobs.x.dow: 'monday' is not mon..sun or 1..7",
            id="bad-dow",
        ),
        pytest.param(
            {"jobs": {"x": {"cadence": "weekly", "dow": 8}}},
            "jobs.x.dow: 8 is not mon..sun or 1..7",
            id="dow-out-of-range",
        ),
        pytest.param({"jobs": {"x": {}}}, "jobs.x.cadence: required", id="missing-cadence"),
        pytest.param(
            {"jobs": {"x": {"cadence": "every"}}},
            "jobs.x.everyMinutes: required",
            id="every-without-minutes",
        ),
        pytest.param(
            {"jobs": {"x": {"cadence": "every", "everyMinutes": 0}}},
            "jobs.x.everyMinutes: 0 is less than the minimum of 1",
            id="every-zero",
        ),
        pytest.param(
            {"jobs": {"x": {"cadence": "daily", "dow": "mon"}}},
            "jobs.x.dow: only used when cadence is 'weekly'",
            id="dow-on-daily",
        ),
        pytest.param(
            {"jobs": {"x": {"cadence": "every", "everyMinutes": 5, "at": "09:00"}}},
            "jobs.x.at: not used when cadence is 'every'",
            id="at-on-every",
        ),
        pytest.param(
            {"jobs": {"Bad-Name": {"cadence": "daily"}}},
            "jobs.Bad-Name: invalid job name",
            id="bad-job-name",
        ),
        pytest.param(
            {"timezone": "Mars/Olympus_Mons"},
            "timezone: 'Mars/Olympus_Mons' is not an IANA time zone",
            id="bad-timezone",
        ),
        pytest.param({"enabled": "yes"}, "enabled: 'yes' is not of type 'boolean'", id="bad-bool"),
        pytest.param(
            {"dashboardIssue": "12"}, "dashboardIssue: '12' is not of type", id="issue-not-int"
        ),
        pytest.param(
            {"jobs": {"x": {"cadence": "daily", "webhook": "ftp://hook"}}},
            "jobs.x.webhook: 'ftp://hook' does not match",
            id="bad-webhook",
        ),
        pytest.param(
            {"redaction": {"patterns": ["ok", "(unclosed"]}},
            "redaction.patterns[1]: not a valid regular expression",
            id="bad-regex",
        ),
        pytest.param(
            {"stateLocation": "/abs/path"},
            "stateLocation: '/abs/path' does not match",
            id="bad-loc",
        ),
        pytest.param([], "(top level): must be a JSON object", id="not-an-object"),
    ],
)
def test_invalid_configuration_names_the_key(document: Any, expected: str) -> None:
    """Each bad key or value is rejected with a message that starts with its path."""
    with pytest.raises(ScheduleConfigError) as exc:
        parse_config(document)
    assert any(problem.startswith(expected) for problem in exc.value.problems), exc.value.problems


def test_every_problem_is_reported_at_once() -> None:
    """Several mistakes → one error listing all of them."""
    with pytest.raises(ScheduleConfigError) as exc:
        parse_config({"enabld": True, "jobs": {"x": {"cadence": "daily", "at": "9am"}}})
    assert len(exc.value.problems) == 2
    assert "enabld" in str(exc.value)
    assert "jobs.x.at" in str(exc.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(None, "cannot read the file", id="missing-file"),
        pytest.param('{"enabled": tru}', "not valid JSON at line 1", id="bad-json"),
    ],
)
def test_unreadable_file_names_the_variable(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    """A missing or malformed file is an error naming OPSPLANE_SCHEDULE_CONFIG."""
    path = tmp_path / "schedule.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ScheduleConfigError) as exc:
        load_config({"OPSPLANE_SCHEDULE_CONFIG": str(path)})
    assert str(exc.value).startswith("OPSPLANE_SCHEDULE_CONFIG=")
    assert expected in str(exc.value)


def test_changing_a_default_jobs_cadence_drops_its_old_fields() -> None:
    """A default daily job turned into an 'every' job does not inherit 'at'."""
    config = parse_config(
        {"jobs": {"daily_observability_report": {"cadence": "every", "everyMinutes": 60}}}
    )
    assert config.jobs["daily_observability_report"].cadence is Cadence.EVERY


def test_webhook_is_redacted_in_json_view() -> None:
    """A webhook URL with a secret never shows in the configuration's JSON view."""
    token = "ghp_" + "a" * 36
    config = parse_config(
        {"jobs": {"x": {"cadence": "daily", "webhook": f"https://hooks.example/{token}"}}}
    )
    assert token not in json.dumps(config.jobs["x"].to_json())


def test_schema_file_is_valid_json_schema() -> None:
    """The schema kept in the repository is itself a valid JSON Schema."""
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA_PATH.read_text()))
