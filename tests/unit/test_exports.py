"""Dashboard exports: datasets, manifest, sequences under races, history, heartbeat, verify."""

from __future__ import annotations

import json
import math
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from shared import runtime
from shared.cli import main as cli
from shared.exports import (
    DATASET_NAMES,
    HEARTBEAT_NAME,
    MANIFEST_NAME,
    directory_reader,
    run_export,
    store_reader,
    verify_bundle,
)
from shared.exports.datasets import DATASETS, DatasetSpec
from shared.exports.history import HISTORY_PREFIX
from shared.exports.manifest import SEQUENCE_PREFIX, checksum
from shared.runlog import RunLog
from shared.schedule.registry import registered_jobs
from shared.storage import ObjectStore, open_store
from tests.unit.test_exports_seed import NOW, seed


def _clock(now=NOW):
    return lambda: now


def _json(store: ObjectStore, name: str) -> dict:
    return json.loads(store.get(name).data)


def _nearest_rank(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


@pytest.fixture
def store() -> ObjectStore:
    return runtime.store()


def test_export_writes_every_dataset_with_its_checksum_in_the_manifest(store) -> None:
    """Each dataset file's SHA-256 and row count are in the manifest, and the bundle verifies."""
    seed(store)
    result = run_export(store, clock=_clock())
    assert result.status.value == "ok", result.errors
    manifest = _json(store, MANIFEST_NAME)
    listed = {entry["dataset"]: entry for entry in manifest["datasets"]}
    assert set(listed) == set(DATASET_NAMES)
    for name, entry in listed.items():
        data = store.get(f"exports/dashboard/{name}.json").data
        assert entry["checksum_sha256"] == checksum(data)
        assert entry["rows"] == len(json.loads(data)["rows"])
        assert entry["sequence"] == result.sequence
    assert verify_bundle(store_reader(store)) == []


def test_run_history_counts_and_percentiles_match_the_seeded_runs(store) -> None:
    """Per day and job type: runs, success rate and p50/p95 within the histogram's 4 %."""
    expected = seed(store)
    run_export(store, datasets=["run_history"], clock=_clock())
    rows = _json(store, "exports/dashboard/run_history.json")["rows"]
    assert {(r["day"], r["job_type"]) for r in rows} == set(expected.durations)
    for row in rows:
        durations = expected.durations[(row["day"], row["job_type"])]
        assert row["runs"] == len(durations)
        assert row["succeeded"] + row["failed"] == len(durations)
        for percent, key in ((50, "p50_ms"), (95, "p95_ms")):
            exact = _nearest_rank(durations, percent)
            assert exact <= row[key] <= exact * 1.04 + 0.1
    per_day: dict[str, list[int]] = {}
    for row in rows:
        per_day.setdefault(row["day"], [0, 0])
        per_day[row["day"]][0] += row["succeeded"]
        per_day[row["day"]][1] += row["failed"]
    assert {day: tuple(v) for day, v in per_day.items()} == expected.per_day


def test_other_datasets_hold_the_seeded_state(store) -> None:
    """Dead letters by status, hourly p95 per source and SLO states as seeded."""
    expected = seed(store)
    run_export(store, clock=_clock())
    letters = _json(store, "exports/dashboard/dlq_summary.json")["rows"]
    assert {r["job_type"]: r["open"] for r in letters if r["open"]} == expected.open_letters
    assert {r["job_type"]: r["resolved"] for r in letters} == {"backup": 0, "report": 1}
    rollups = _json(store, "exports/dashboard/latency_rollups.json")["rows"]
    assert {(r["source"], r["hour_utc"]): r["p95_ms"] for r in rollups} == expected.p95_ms
    slos = _json(store, "exports/dashboard/slo_status.json")["rows"]
    assert {r["source"]: r["state"] for r in slos} == expected.slo_states
    jobs = {r["job"] for r in _json(store, "exports/dashboard/schedule_status.json")["rows"]}
    assert "sweeper" in jobs


def test_sequences_increase_across_runs_and_from_the_last_known(store) -> None:
    """Each run takes the next number, also after older markers were pruned."""
    first = run_export(store, datasets=["slo_status"], clock=_clock())
    second = run_export(store, datasets=["slo_status"], clock=_clock())
    for info in list(store.list(SEQUENCE_PREFIX)):
        store.delete(info.name)
    third = run_export(store, datasets=["dlq_summary"], clock=_clock())
    assert (first.sequence, second.sequence, third.sequence) == (1, 2, 3)


@pytest.mark.parametrize(
    "backend",
    [pytest.param("memory", id="memory"), pytest.param("file", id="file")],
)
def test_racing_exports_get_distinct_sequences_and_lose_no_dataset(
    backend: str, tmp_path: Path
) -> None:
    """Threads exporting overlapping dataset sets: distinct sequences, a manifest that verifies."""
    url = "memory://race-" + tmp_path.name if backend == "memory" else f"file://{tmp_path}"
    store = open_store(url)
    seed(store)
    plans = [
        ["run_history", "dlq_summary"],
        ["slo_status", "latency_rollups"],
        list(DATASET_NAMES),
        ["dlq_summary", "schedule_status"],
    ]
    results = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(plans))

    def export(names: list[str]) -> None:
        barrier.wait()
        try:
            results.append(run_export(store, datasets=names, clock=_clock()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=export, args=(names,)) for names in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    sequences = sorted(r.sequence for r in results)
    assert sequences == [1, 2, 3, 4]
    manifest = _json(store, MANIFEST_NAME)
    assert {e["dataset"] for e in manifest["datasets"]} == set(DATASET_NAMES)
    newest = {}
    for result in results:
        for outcome in result.datasets:
            newest[outcome.dataset] = max(newest.get(outcome.dataset, 0), result.sequence)
    assert {e["dataset"]: e["sequence"] for e in manifest["datasets"]} == newest
    assert verify_bundle(store_reader(store)) == []
    heartbeat = _json(store, HEARTBEAT_NAME)
    assert heartbeat["last_run"]["sequence"] == 4


def test_a_corrupted_dataset_file_is_named_by_verify(store, capsys) -> None:
    """One changed byte in dlq_summary.json: verify exits 1 naming that file's checksum."""
    seed(store)
    run_export(store, clock=_clock())
    name = "exports/dashboard/dlq_summary.json"
    data = store.get(name).data
    store.put(name, data.replace(b'"open": 2', b'"open": 3'))
    assert cli(["export", "verify"]) == 1
    err = capsys.readouterr().err
    assert "dlq_summary.json: checksum mismatch" in err.splitlines()[0]


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        pytest.param(
            lambda s: s.delete("exports/dashboard/slo_status.json"),
            "slo_status.json: is listed in the manifest but missing",
            id="missing-file",
        ),
        pytest.param(
            lambda s: s.delete(MANIFEST_NAME),
            "manifest.json: is missing",
            id="missing-manifest",
        ),
        pytest.param(
            lambda s: s.put(MANIFEST_NAME, b'{"datasets": []}'),
            "manifest.json: does not match its schema",
            id="manifest-schema",
        ),
        pytest.param(
            lambda s: s.put("exports/dashboard/run_history.json", b"not json"),
            "run_history.json: checksum mismatch",
            id="not-json",
        ),
    ],
)
def test_verify_names_the_first_problem(store, capsys, damage, expected: str) -> None:
    """Each kind of damage is reported first, by file."""
    run_export(store, clock=_clock())
    damage(store)
    assert cli(["export", "verify"]) == 1
    assert expected in capsys.readouterr().err.splitlines()[0]


def test_a_schema_violation_with_a_matching_checksum_is_reported(store) -> None:
    """A file rewritten with a consistent checksum but a wrong row shape fails its schema."""
    run_export(store, datasets=["slo_status"], clock=_clock())
    document = _json(store, "exports/dashboard/slo_status.json")
    document["rows"] = [{"source": "api", "state": "melting"}]
    data = json.dumps(document).encode()
    store.put("exports/dashboard/slo_status.json", data)
    manifest = _json(store, MANIFEST_NAME)
    manifest["datasets"][0].update(checksum_sha256=checksum(data), rows=1)
    store.put(MANIFEST_NAME, json.dumps(manifest).encode())
    (problem,) = verify_bundle(store_reader(store))
    assert problem.file == "slo_status.json"
    assert "does not match its schema at rows/0" in problem.message


def test_history_keeps_eight_weeks(store) -> None:
    """A bundle nine weeks old is pruned by the next run; one seven weeks old stays."""
    old = run_export(store, datasets=["slo_status"], clock=_clock(NOW - timedelta(weeks=9)))
    kept = run_export(store, datasets=["slo_status"], clock=_clock(NOW - timedelta(weeks=7)))
    latest = run_export(store, datasets=["slo_status"], clock=_clock())
    folders = {info.name.split("/")[2] for info in store.list(HISTORY_PREFIX)}
    assert folders == {kept.history.split("/")[2], latest.history.split("/")[2]}
    assert old.history.split("/")[2] not in folders
    assert latest.pruned >= 2  # the old bundle's dataset and manifest
    bundle = latest.history
    assert _json(store, f"{bundle}manifest.json")["datasets"][0]["sequence"] == latest.sequence


def test_a_failing_dataset_is_reported_while_the_others_go_out(store, monkeypatch) -> None:
    """The heartbeat says which dataset failed; the run log records an error; the rest verifies."""

    def broken(store: ObjectStore, now) -> list:
        raise RuntimeError("cannot read token=hunter2secretvalue")

    monkeypatch.setitem(DATASETS, "slo_status", DatasetSpec("slo_status", (), broken))
    result = run_export(store, clock=_clock())
    assert result.status.value == "error"
    heartbeat = _json(store, HEARTBEAT_NAME)
    assert heartbeat["datasets"]["slo_status"]["status"] == "error"
    assert "hunter2secretvalue" not in heartbeat["datasets"]["slo_status"]["error"]
    assert heartbeat["datasets"]["run_history"]["status"] == "ok"
    assert heartbeat["last_run"]["sequence"] == result.sequence
    (record,) = RunLog(store).read(job="dashboard_export")
    assert record.status.value == "error"
    assert "slo_status" in (record.error_message or "")
    names = {e["dataset"] for e in _json(store, MANIFEST_NAME)["datasets"]}
    assert names == set(DATASET_NAMES) - {"slo_status"}
    assert verify_bundle(store_reader(store)) == []


def test_every_run_is_recorded_in_the_run_log(store) -> None:
    """An ok run's record lists the manifest, history and each dataset's checksum."""
    result = run_export(store, datasets=["dlq_summary"], clock=_clock())
    (record,) = RunLog(store).read(job="dashboard_export")
    assert record.status.value == "ok"
    assert record.artefacts["history"] == result.history
    assert record.artefacts["dlq_summary.sha256"] == result.datasets[0].checksum_sha256


def test_upload_command_gets_a_bundle_that_verifies(store, tmp_path: Path) -> None:
    """{bundle} is replaced by a directory holding the datasets and a manifest that verifies."""
    copy = tmp_path / "copy"
    script = "import shutil, sys; shutil.copytree(sys.argv[1], sys.argv[2])"
    command = f"{sys.executable} -c '{script}' {{bundle}} {copy}"
    result = run_export(store, datasets=["dlq_summary", "slo_status"], upload_command=command)
    assert result.upload == {"status": "ok", "exit_code": 0, "error": None}
    assert sorted(p.name for p in copy.iterdir()) == [
        "dlq_summary.json",
        "manifest.json",
        "slo_status.json",
    ]
    assert verify_bundle(directory_reader(copy)) == []


def test_a_failing_upload_command_fails_the_run_with_its_output_redacted(store, caplog) -> None:
    """Exit code 3: the run is an error, the log line shows the output without the secret."""
    script = "import sys; print('uploading with password=s3cr3tpassw0rd'); sys.exit(3)"
    command = f'{sys.executable} -c "{script}"'
    result = run_export(store, datasets=["slo_status"], upload_command=command)
    assert result.status.value == "error"
    assert result.upload is not None
    assert result.upload["exit_code"] == 3
    (record,) = [r for r in caplog.records if r.getMessage() == "upload command failed"]
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["exit_code"] == 3
    assert "password=[REDACTED]" in fields["output"]
    assert "s3cr3tpassw0rd" not in json.dumps(fields) + json.dumps(result.to_json())


def test_cli_dashboard_with_provenance_file(store, tmp_path: Path, capsys, monkeypatch) -> None:
    """--provenance adds its inputs; the commit comes from OPSPLANE_COMMIT_SHA."""
    monkeypatch.setenv("OPSPLANE_COMMIT_SHA", "0123abcd")
    provenance = tmp_path / "provenance.json"
    provenance.write_text(json.dumps({"inputs": {"ci": "build-42"}, "pipeline": "nightly"}))
    code = cli(["export", "dashboard", "--dataset", "slo_status", "--provenance", str(provenance)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert [d["dataset"] for d in printed["datasets"]] == ["slo_status"]
    manifest = _json(store, MANIFEST_NAME)
    assert manifest["provenance"]["commit_sha"] == "0123abcd"
    assert manifest["provenance"]["command"] == "opsplane export dashboard --dataset slo_status"
    assert manifest["provenance"]["inputs"]["provided"] == {"ci": "build-42"}
    assert manifest["provenance"]["inputs"]["prefixes"] == ["latency/slo/"]
    assert manifest["provenance"]["extra"] == {"pipeline": "nightly"}


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["export", "dashboard", "--dataset", "nope"], id="unknown-dataset"),
        pytest.param(["export", "dashboard", "--upload-command", "'unclosed"], id="bad-command"),
    ],
)
def test_cli_rejects_bad_arguments(argv: list[str], capsys) -> None:
    """Usage errors exit 2 before anything is written."""
    with pytest.raises(SystemExit) as exited:
        cli(argv)
    assert exited.value.code == 2
    assert list(runtime.store().list("exports/")) == []


def test_dashboard_export_is_a_registered_schedule_job() -> None:
    """The schedule runner knows dashboard_export."""
    assert "dashboard_export" in registered_jobs()


def test_verify_a_kept_bundle_by_sequence(store, capsys) -> None:
    """--history N verifies bundle N; a damaged copy there is named; an unknown N exits 2."""
    first = run_export(store, datasets=["slo_status"], clock=_clock())
    run_export(store, datasets=["slo_status"], clock=_clock())
    assert cli(["export", "verify", "--history", str(first.sequence)]) == 0
    store.put(f"{first.history}slo_status.json", b"{}")
    assert cli(["export", "verify", "--history", str(first.sequence)]) == 1
    assert "slo_status.json: checksum mismatch" in capsys.readouterr().err
    assert cli(["export", "verify", "--history", "99"]) == 2


def test_the_schedule_runner_runs_dashboard_export_and_records_it_once(store) -> None:
    """A forced dashboard_export through the runner exports and leaves one run-log record."""
    from shared.schedule.config import parse_config
    from shared.schedule.runner import ScheduleRunner

    seed(store)
    config = parse_config(
        {"enabled": True, "jobs": {"dashboard_export": {"cadence": "every", "everyMinutes": 60}}}
    )
    runner = ScheduleRunner(store, config, clock=_clock())
    (outcome,) = runner.run_once(NOW, force=True, only="dashboard_export")
    assert outcome.status.value == "ok", outcome.to_json()
    assert verify_bundle(store_reader(store)) == []
    (record,) = RunLog(store).read(job="dashboard_export")
    assert record.artefacts["manifest"] == MANIFEST_NAME
    provenance = _json(store, MANIFEST_NAME)["provenance"]
    assert provenance["command"] == "schedule:dashboard_export"
