"""Settings resolve from the environment and name the variable when they can't."""

from __future__ import annotations

import pytest

from shared.settings import Settings, SettingsError


def test_defaults_are_the_embedded_stack() -> None:
    """With nothing set, opsplane runs on local files and the local queue."""
    settings = Settings.from_env({})
    assert settings.store_url.startswith("file://")
    assert settings.queue_url == "local://"
    assert settings.base_url == "http://127.0.0.1:8080"


def test_port_moves_the_default_base_url() -> None:
    """OPSPLANE_PORT changes where the local stack says it lives."""
    assert Settings.from_env({"OPSPLANE_PORT": "9090"}).base_url == "http://127.0.0.1:9090"


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        pytest.param({"OPSPLANE_STORE": "ftp://x"}, "OPSPLANE_STORE", "ftp", id="store-scheme"),
        pytest.param({"OPSPLANE_QUEUE": "sqs://q"}, "OPSPLANE_QUEUE", "sqs", id="queue-scheme"),
        pytest.param({"OPSPLANE_PORT": "eighty"}, "OPSPLANE_PORT", "integer", id="port-nan"),
        pytest.param({"OPSPLANE_PORT": "70000"}, "OPSPLANE_PORT", "65535", id="port-range"),
        pytest.param({"OPSPLANE_LOG_LEVEL": "loud"}, "OPSPLANE_LOG_LEVEL", "LOUD", id="level"),
        pytest.param(
            {"OPSPLANE_MAX_BODY_BYTES": "10"}, "OPSPLANE_MAX_BODY_BYTES", "1024", id="body-min"
        ),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str, fragment: str) -> None:
    """A bad value fails start-up with the variable's name and what is wrong."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert caught.value.variable == variable
    assert variable in str(caught.value)
    assert fragment in str(caught.value)


def test_a_malformed_redaction_pattern_fails_start_up() -> None:
    """A custom redaction pattern that does not compile is a start-up error, not a silent gap."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"OPSPLANE_REDACTION_PATTERNS": '["("]'})
    assert caught.value.variable == "OPSPLANE_REDACTION_PATTERNS"
