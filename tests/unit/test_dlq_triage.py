"""Dead-letter triage: counts, grouped reasons, redaction, filters, Markdown and posting."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from shared.callbacks import deadletters as callback_deadletters
from shared.clock import isoformat
from shared.dlq import DlqFilter, normalise_message, post_triage, render_markdown, triage
from shared.dlq.letters import LetterKind
from shared.github import GitHubClient
from shared.storage.memory import MemoryStore
from tests.dlq_support import START, TEMPLATES, Seeded, seed_dead_letters
from tests.github_server import GitHubServer


@pytest.fixture(scope="module")
def seeded_store() -> tuple[MemoryStore, Seeded]:
    store = MemoryStore()
    return store, seed_dead_letters(store, 1000)


def test_counts_are_exact(seeded_store: tuple[MemoryStore, Seeded]) -> None:
    """1,000 dead letters: total, per job type and per error code match what was seeded."""
    store, seeded = seeded_store
    summary = triage(store).to_dict()
    assert summary["total"] == 1000
    assert summary["by_job_type"] == dict(seeded.by_job_type)
    assert summary["by_code"] == dict(seeded.by_code)
    assert summary["by_kind"] == {"job": 1000}
    assert summary["by_status"] == {"open": 1000}


def test_reasons_are_grouped_despite_ids_and_numbers(
    seeded_store: tuple[MemoryStore, Seeded],
) -> None:
    """Each message template is one reason, whatever ids, numbers and times it carried."""
    store, seeded = seeded_store
    reasons = triage(store).to_dict()["top_reasons"]
    assert len(reasons) == len(TEMPLATES)
    counted = sorted((r["error_code"], r["count"]) for r in reasons)
    expected = sorted((key.split(":")[0], n) for key, n in seeded.by_template.items())
    assert counted == expected
    assert sum(r["count"] for r in reasons) == 1000
    assert all(r["first_seen"] <= r["last_seen"] for r in reasons)


def test_no_planted_secret_appears_in_json_or_markdown(
    seeded_store: tuple[MemoryStore, Seeded],
) -> None:
    """Secrets planted in params and error messages never reach the JSON or the Markdown."""
    store, seeded = seeded_store
    summary = triage(store)
    outputs = [json.dumps(summary.to_dict()), render_markdown(summary)]
    assert summary.to_dict()["samples"], "samples carry params and messages: they must be there"
    for output in outputs:
        leaked = [secret for secret in seeded.secrets if secret in output]
        assert leaked == []
    assert "[REDACTED" in outputs[0]


def test_oldest_newest_and_twenty_newest_samples(
    seeded_store: tuple[MemoryStore, Seeded],
) -> None:
    """Oldest and newest are the first and last written; samples are the 20 newest, newest first."""
    store, seeded = seeded_store
    summary = triage(store).to_dict()
    by_time = sorted(seeded.created, key=seeded.created.__getitem__)
    assert summary["oldest"]["id"] == by_time[0]
    assert summary["newest"]["id"] == by_time[-1]
    assert [s["id"] for s in summary["samples"]] == by_time[::-1][:20]


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        pytest.param(DlqFilter(job_type="email"), 250, id="job-type"),
        pytest.param(DlqFilter(code="timeout"), None, id="code"),
        pytest.param(DlqFilter(since=START + timedelta(minutes=900)), 100, id="since"),
        pytest.param(
            DlqFilter(since=START + timedelta(minutes=10), until=START + timedelta(minutes=19)),
            10,
            id="range",
        ),
        pytest.param(DlqFilter(kinds=frozenset({LetterKind.CALLBACK})), 0, id="callbacks-only"),
    ],
)
def test_filters(
    seeded_store: tuple[MemoryStore, Seeded], selection: DlqFilter, expected: int | None
) -> None:
    """Filters by job type, code and time narrow the totals to what matches."""
    store, seeded = seeded_store
    summary = triage(store, selection).to_dict()
    assert summary["total"] == (seeded.by_code["timeout"] if expected is None else expected)


def test_resolved_letters_are_history_not_work() -> None:
    """Resolved dead letters drop out of the default triage but are counted on request."""
    store = MemoryStore()
    seeded = seed_dead_letters(store, 3)
    name = f"dlq/jobs/{seeded.run_ids[0]}.json"
    doc = json.loads(store.get(name).data)
    store.put(name, json.dumps({**doc, "status": "resolved"}).encode())
    assert triage(store).total == 2
    everything = triage(store, DlqFilter(statuses=frozenset({"open", "resolved"})))
    assert everything.to_dict()["by_status"] == {"open": 2, "resolved": 1}


def test_callback_letters_and_unreadable_objects() -> None:
    """Callback dead letters count with job ones; a damaged object is counted, not fatal."""
    store = MemoryStore()
    seed_dead_letters(store, 2)
    callback_deadletters.write(
        store,
        {"eventId": "run-1.3", "runId": "run-1", "jobType": "http", "status": "FAILED"},
        url="https://receiver.example.com/hook",
        attempts=5,
        error="HTTP 502 from receiver (Authorization: Bearer abcdefghijklmnop)",
        status=502,
        now=START,
    )
    store.put("dlq/jobs/broken.json", b"{not json")
    summary = triage(store).to_dict()
    assert summary["by_kind"] == {"job": 2, "callback": 1}
    assert summary["by_code"]["callback_http_502"] == 1
    assert summary["unreadable"] == 1
    assert "abcdefghijklmnop" not in json.dumps(summary)


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        pytest.param(
            "timeout after 31.5s on attempt 3", "timeout after 2s on attempt 1", True, id="numbers"
        ),
        pytest.param(
            "run 20261125T101500123456Z-ab12cd34ef failed",
            "run 20261101T000000000001Z-00ff00aa11 failed",
            True,
            id="run-ids",
        ),
        pytest.param(
            "user 123e4567-e89b-12d3-a456-426614174000 missing",
            "user 00000000-0000-0000-0000-000000000001 missing",
            True,
            id="uuids",
        ),
        pytest.param(
            "refused at 2026-11-25T10:15:00Z",
            "refused at 2026-01-02T00:00:00.5+02:00",
            True,
            id="timestamps",
        ),
        pytest.param(
            "connect 10.0.0.1:5432 refused",
            "connect 192.168.1.20:6543 refused",
            True,
            id="addresses",
        ),
        pytest.param(
            "object sha 9f86d081884c7d65 missing",
            "object sha 2c26b46b68ffc68f missing",
            True,
            id="hex",
        ),
        pytest.param(
            "HTTP 503 from upstream", "HTTP 404 from upstream", False, id="http-status-kept"
        ),
        pytest.param("disk full", "permission denied", False, id="different-causes"),
    ],
)
def test_normalisation(first: str, second: str, same: bool) -> None:
    """Ids, numbers, times and addresses don't split a reason; HTTP statuses and words do."""
    assert (normalise_message(first) == normalise_message(second)) is same


def test_markdown_escapes_table_breakers() -> None:
    """A message with pipes, newlines and HTML cannot break the Markdown table."""
    store = MemoryStore()
    store.put(
        "dlq/jobs/x1.json",
        json.dumps(
            {
                "run_id": "x1",
                "job_type": "http",
                "error_code": "weird",
                "last_error": "a | b\n| c <script>alert(1)</script>",
                "created_at": isoformat(START),
                "status": "open",
            }
        ).encode(),
    )
    body = render_markdown(triage(store))
    assert "<script>" not in body
    rows = [line for line in body.splitlines() if line.startswith("| ") and "weird" in line]
    # Unescaped pipes: the code table (2 columns), reasons (6) and samples (7), one row each.
    assert sorted(len(re.findall(r"(?<!\\)\|", line)) for line in rows) == [3, 7, 8]
    assert "a \\| b" in body


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    with GitHubServer() as server:
        yield server


def test_post_opens_one_issue_then_updates_it(
    github: GitHubServer, seeded_store: tuple[MemoryStore, Seeded]
) -> None:
    """--post: the first triage opens the labelled issue, the second updates that same issue."""
    store, seeded = seeded_store
    with GitHubClient(github.repository, token=github.token, base_url=github.url) as client:
        first = post_triage(client, triage(store, DlqFilter(job_type="email")))
        second = post_triage(client, triage(store))
    assert (first.action, second.action) == ("created", "updated")
    assert first.number == second.number
    assert len(github.issues) == 1
    issue = github.issues[first.number]
    assert github.labels_of(first.number) == ["opsplane-triage"]
    assert "**1000** dead letters" in issue["body"]
    assert not [s for s in seeded.secrets if s in issue["body"] or s in issue["title"]]
    assert len(github.requests_to("POST", r"/issues$")) == 1
    assert len(github.requests_to("PATCH", r"/issues/\d+$")) == 1


@pytest.mark.parametrize(
    ("letter_id", "shown"),
    [
        # A generated run id whose random suffix the entropy rules take for a token.
        pytest.param("20261125T201754199978Z-13a93e949a", True, id="generated-run-id"),
        pytest.param("ghp_" + "a1B2" * 9, False, id="token-as-id"),
    ],
)
def test_generated_ids_stay_readable_other_ids_are_redacted(letter_id: str, shown: bool) -> None:
    """Ids opsplane generated are shown as they are (to replay by id); others are redacted."""
    store = MemoryStore()
    store.put(
        f"dlq/jobs/{letter_id}.json",
        json.dumps(
            {
                "run_id": letter_id,
                "job_type": "http",
                "error_code": "boom",
                "last_error": "boom",
                "created_at": isoformat(START),
                "status": "open",
            }
        ).encode(),
    )
    summary = triage(store)
    for output in (json.dumps(summary.to_dict()), render_markdown(summary)):
        assert (letter_id in output) is shown
