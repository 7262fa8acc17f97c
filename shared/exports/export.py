"""One dashboard export: build the datasets, write the bundle, record the run.

1. take a sequence number (create-only marker)
2. build each dataset; one that fails is reported, the others still go out
3. keep the run's bundle under ``exports/history/`` (written once)
4. move ``exports/dashboard/`` forward: each dataset file, then the manifest
5. prune history past eight weeks, update the heartbeat
6. hand the bundle to the upload command, if any
7. one run-log record (unless the schedule runner writes it)
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from shared import logs
from shared.clock import Clock, isoformat, utcnow
from shared.exports.datasets import DATASET_NAMES, DATASETS, check_names
from shared.exports.history import bundle_prefix, prune_history
from shared.exports.manifest import (
    MANIFEST_NAME,
    ManifestEntry,
    allocate_sequence,
    checksum,
    commit_sha,
    dataset_document,
    dataset_object_name,
    encode,
    manifest_document,
    merge_manifest,
    prune_sequence_markers,
    put_newer,
    read_json,
)
from shared.exports.upload import UploadFailed, run_upload
from shared.redaction import redact_data, redact_text
from shared.runlog import RunLog, RunStatus
from shared.storage import ObjectStore, PreconditionFailed

JOB_NAME = "dashboard_export"
HEARTBEAT_NAME = "exports/heartbeat.json"
_MAX_CAS_ROUNDS = 50
_log = logs.get_logger("opsplane.exports")


class DatasetStatus(StrEnum):
    OK = "ok"
    ERROR = "error"


@dataclass(frozen=True)
class DatasetOutcome:
    """How one dataset fared in one run."""

    dataset: str
    status: DatasetStatus
    rows: int = 0
    checksum_sha256: str | None = None
    published: bool = False  # False when a newer run's file was already in place
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "status": self.status.value,
            "rows": self.rows,
            "checksum_sha256": self.checksum_sha256,
            "published": self.published,
            "error": self.error,
        }


@dataclass(frozen=True)
class ExportResult:
    """One export run, as answered by the function and printed by the CLI."""

    job_id: str
    sequence: int
    status: RunStatus
    started_at: datetime
    duration_ms: int
    datasets: tuple[DatasetOutcome, ...]
    history: str
    upload: dict[str, Any] | None = None
    pruned: int = 0
    errors: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "sequence": self.sequence,
            "status": self.status.value,
            "started_at": isoformat(self.started_at),
            "duration_ms": self.duration_ms,
            "manifest": MANIFEST_NAME,
            "history": self.history,
            "datasets": [outcome.to_json() for outcome in self.datasets],
            "upload": self.upload,
            "pruned": self.pruned,
            "errors": list(self.errors),
        }


def provenance_for(
    command: str,
    datasets: Sequence[str],
    extra: Mapping[str, Any] | None = None,
    *,
    store: ObjectStore | None = None,
) -> dict[str, Any]:
    """``command``, ``commit_sha`` and ``inputs`` (store prefixes read), plus a file's extras.

    ``extra`` is the ``--provenance`` file: its ``inputs`` are added to ours and
    its other keys kept under ``extra``; all of it redacted.
    """
    from shared import runtime

    url = (store or runtime.store()).url
    inputs: dict[str, Any] = {
        "store": redact_text(url.split("://", 1)[0] + "://"),
        "prefixes": sorted({p for name in datasets for p in DATASETS[name].inputs}),
    }
    given = dict(extra or {})
    if "inputs" in given:
        inputs["provided"] = redact_data(given.pop("inputs"))
    provenance: dict[str, Any] = {
        "command": redact_text(command),
        "commit_sha": commit_sha(),
        "inputs": inputs,
    }
    if given:
        provenance["extra"] = redact_data(given)
    return provenance


def run_export(
    store: ObjectStore,
    *,
    datasets: Sequence[str] = DATASET_NAMES,
    provenance: Mapping[str, Any] | None = None,
    upload_command: str | None = None,
    clock: Clock = utcnow,
    record_run: bool = True,
) -> ExportResult:
    """Export ``datasets`` once; ValueError for an unknown dataset name."""
    names = check_names(list(datasets))
    if not names:
        raise ValueError("no dataset to export")
    started = time.monotonic()
    now = clock()
    sequence = allocate_sequence(store, now)
    job_id = f"{now:%Y%m%dT%H%M%SZ}-{JOB_NAME}-{sequence}"
    prov = dict(provenance or {"command": JOB_NAME, "commit_sha": None, "inputs": {}})
    errors: list[str] = []

    built: dict[str, bytes] = {}
    entries: dict[str, ManifestEntry] = {}
    failed: dict[str, str] = {}
    for name in names:
        try:
            rows = DATASETS[name].build(store, now)
        except Exception as exc:  # noqa: BLE001 - one dataset failing must not stop the others
            message = redact_text(f"{type(exc).__name__}: {exc}")[:500]
            _log.warning("dataset failed", extra={"fields": {"dataset": name, "error": message}})
            failed[name] = message
            errors.append(f"{name}: {message}")
            continue
        data = encode(dataset_document(name, sequence, now, rows))
        built[name] = data
        entries[name] = ManifestEntry(name, sequence, isoformat(now), checksum(data), len(rows))

    history = bundle_prefix(sequence, now)
    for name, data in built.items():
        store.put(f"{history}{name}.json", data)
    bundle_manifest = manifest_document(entries, prov, now)
    store.put(f"{history}manifest.json", encode(bundle_manifest))

    published = {
        name: put_newer(store, dataset_object_name(name), data, sequence)
        for name, data in built.items()
    }
    # Only what this run published goes into the manifest: an entry for a file a
    # newer run has already replaced would name a checksum no file has.
    mine = {name: entry for name, entry in entries.items() if published[name]}
    if mine:
        merge_manifest(store, mine, prov, now)

    pruned, oldest_kept = prune_history(store, now, newest=sequence)
    if oldest_kept is not None:
        pruned += prune_sequence_markers(store, min(oldest_kept, sequence))

    upload: dict[str, Any] | None = None
    if upload_command:
        upload = _upload(upload_command, built, bundle_manifest)
        if upload["status"] != "ok":
            errors.append(f"upload: {upload['error']}")

    outcomes = tuple(
        DatasetOutcome(name, DatasetStatus.ERROR, error=failed[name])
        if name in failed
        else DatasetOutcome(
            name,
            DatasetStatus.OK,
            rows=entries[name].rows,
            checksum_sha256=entries[name].checksum_sha256,
            published=published[name],
        )
        for name in names
    )
    status = RunStatus.ERROR if errors else RunStatus.OK
    result = ExportResult(
        job_id=job_id,
        sequence=sequence,
        status=status,
        started_at=now,
        duration_ms=int((time.monotonic() - started) * 1000),
        datasets=outcomes,
        history=history,
        upload=upload,
        pruned=pruned,
        errors=tuple(errors),
    )
    update_heartbeat(store, result, clock())
    if record_run:
        RunLog(store, clock).record(
            JOB_NAME,
            status,
            started_at=now,
            duration_ms=result.duration_ms,
            artefacts=artefacts_of(result),
            error_code="export_failed" if errors else None,
            error_message="; ".join(errors) if errors else None,
        )
    return result


def artefacts_of(result: ExportResult) -> dict[str, str]:
    """The objects a run produced, for the run log."""
    artefacts = {"manifest": MANIFEST_NAME, "history": result.history, "heartbeat": HEARTBEAT_NAME}
    for outcome in result.datasets:
        if outcome.checksum_sha256:
            artefacts[f"{outcome.dataset}.sha256"] = outcome.checksum_sha256
    return artefacts


def _upload(
    command: str, built: Mapping[str, bytes], bundle_manifest: Mapping[str, Any]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="opsplane-export-") as tmp:
        bundle = Path(tmp) / "dashboard"
        bundle.mkdir()
        for name, data in built.items():
            (bundle / f"{name}.json").write_bytes(data)
        (bundle / "manifest.json").write_bytes(encode(bundle_manifest))
        try:
            done = run_upload(command, bundle)
        except UploadFailed as exc:
            return {"status": "error", "exit_code": exc.exit_code, "error": exc.message}
    return {"status": "ok", "exit_code": done.exit_code, "error": None}


def update_heartbeat(store: ObjectStore, result: ExportResult, now: datetime) -> dict[str, Any]:
    """Fold this run into ``exports/heartbeat.json``: the newest run, each dataset's status."""
    ours = {
        outcome.dataset: {
            "status": outcome.status.value,
            "sequence": result.sequence,
            "rows": outcome.rows,
            "error": outcome.error,
            "at": isoformat(result.started_at),
        }
        for outcome in result.datasets
    }
    last_run = {
        "job_id": result.job_id,
        "sequence": result.sequence,
        "status": result.status.value,
        "started_at": isoformat(result.started_at),
        "finished_at": isoformat(now),
        "duration_ms": result.duration_ms,
    }
    for _ in range(_MAX_CAS_ROUNDS):
        current, generation = read_json(store, HEARTBEAT_NAME)
        current = current or {}
        datasets = dict(current.get("datasets") or {})
        for name, entry in ours.items():
            if int((datasets.get(name) or {}).get("sequence", 0)) < result.sequence:
                datasets[name] = entry
        stored_last = current.get("last_run") or {}
        newer = int(stored_last.get("sequence", 0)) < result.sequence
        document = {"last_run": last_run if newer else stored_last, "datasets": datasets}
        data = json.dumps(document, sort_keys=True).encode()
        try:
            store.put_if_unchanged(HEARTBEAT_NAME, data, generation)
        except PreconditionFailed:
            continue
        return document
    raise PreconditionFailed(f"{HEARTBEAT_NAME}: too many concurrent writers")
