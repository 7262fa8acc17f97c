"""Retry policies: delays, retryable decisions, configuration."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from shared.jobs.policy import Backoff, Escalation, RetryPolicy, load_policies
from shared.settings import SettingsError


@pytest.mark.parametrize(
    ("backoff", "delays"),
    [
        pytest.param(Backoff.EXPONENTIAL, [100, 200, 400, 800, 1000, 1000], id="exponential"),
        pytest.param(Backoff.LINEAR, [100, 200, 300, 400, 500, 600], id="linear"),
        pytest.param(Backoff.IMMEDIATE, [0, 0, 0, 0, 0, 0], id="immediate"),
    ],
)
def test_backoff_delays(backoff: Backoff, delays: list[int]) -> None:
    """Delays grow per the backoff kind and never pass max_delay_ms."""
    policy = RetryPolicy(backoff=backoff, base_delay_ms=100, max_delay_ms=1000)
    assert [policy.delay_ms(retry) for retry in range(1, 7)] == delays


def test_jitter_only_shortens_the_delay() -> None:
    """With jitter 0.5, delays fall in [50%, 100%] of the computed delay."""
    policy = RetryPolicy(base_delay_ms=1000, max_delay_ms=1000, jitter=0.5)
    rng = random.Random(7)
    samples = [policy.delay_ms(1, rng) for _ in range(200)]
    assert min(samples) >= 500
    assert max(samples) <= 1000
    assert len(set(samples)) > 50


@pytest.mark.parametrize(
    ("policy", "code", "hint", "retry"),
    [
        pytest.param(RetryPolicy(), "timeout", None, True, id="builtin-retryable-code"),
        pytest.param(RetryPolicy(), "bad_request", None, False, id="builtin-permanent-code"),
        pytest.param(RetryPolicy(), "custom", True, True, id="handler-hint-true"),
        pytest.param(RetryPolicy(), "timeout", False, False, id="handler-hint-false"),
        pytest.param(
            RetryPolicy(no_retry=frozenset({"timeout"})), "timeout", True, False, id="no-retry-wins"
        ),
        pytest.param(
            RetryPolicy(retry_on=frozenset({"auth"})), "auth", False, True, id="retry-on-list"
        ),
        pytest.param(
            RetryPolicy(retry_on=frozenset({"auth"})), "timeout", True, False, id="retry-on-only"
        ),
    ],
)
def test_retryable_decisions(
    policy: RetryPolicy, code: str, hint: bool | None, retry: bool
) -> None:
    """no_retry beats everything; a retry_on list is complete; else the hint, else the codes."""
    assert policy.is_retryable(code, hint) is retry


def test_policies_overlay_builtins_from_inline_json() -> None:
    """Inline JSON overrides fields of built-in types and defines new ones; '*' is the default."""
    policies = load_policies(
        json.dumps(
            {
                "http": {"max_retries": 7},
                "reports.build": {"escalate_on_failure": "manual_review", "priority": 9},
                "*": {"max_retries": 1},
            }
        )
    )
    assert policies.for_job("http").max_retries == 7
    assert policies.for_job("http").jitter == 0.2  # untouched built-in field
    assert policies.for_job("reports.build").escalate_on_failure is Escalation.MANUAL_REVIEW
    assert policies.for_job("unknown").max_retries == 1


def test_policies_from_a_file(tmp_path: Path) -> None:
    """OPSPLANE_JOB_POLICIES may name a JSON file."""
    path = tmp_path / "policies.json"
    path.write_text(json.dumps({"noop": {"max_retries": 2, "backoff": "linear"}}))
    policy = load_policies(str(path)).for_job("noop")
    assert (policy.max_retries, policy.backoff) == (2, Backoff.LINEAR)


@pytest.mark.parametrize(
    ("raw", "variable"),
    [
        pytest.param("{not json", "OPSPLANE_JOB_POLICIES", id="bad-json"),
        pytest.param("[1]", "OPSPLANE_JOB_POLICIES", id="not-an-object"),
        pytest.param("/nonexistent/p.json", "OPSPLANE_JOB_POLICIES", id="missing-file"),
        pytest.param('{"x": {"retries": 1}}', "OPSPLANE_JOB_POLICIES['x']", id="unknown-field"),
        pytest.param(
            '{"x": {"max_retries": -1}}', "OPSPLANE_JOB_POLICIES['x'].max_retries", id="negative"
        ),
        pytest.param(
            '{"x": {"backoff": "fibonacci"}}', "OPSPLANE_JOB_POLICIES['x'].backoff", id="backoff"
        ),
        pytest.param('{"x": {"jitter": 2}}', "OPSPLANE_JOB_POLICIES['x'].jitter", id="jitter"),
        pytest.param(
            '{"x": {"retry_on": "timeout"}}', "OPSPLANE_JOB_POLICIES['x'].retry_on", id="codes"
        ),
        pytest.param(
            '{"x": {"escalate_on_failure": "pager"}}',
            "OPSPLANE_JOB_POLICIES['x'].escalate_on_failure",
            id="escalation",
        ),
    ],
)
def test_bad_policies_name_what_is_wrong(raw: str, variable: str) -> None:
    """Every configuration mistake is a SettingsError naming the variable and field."""
    with pytest.raises(SettingsError) as caught:
        load_policies(raw)
    assert caught.value.variable == variable
