"""The bundle's manifest, its sequence numbers and the objects it names.

    exports/dashboard/<dataset>.json    the latest document of each dataset
    exports/dashboard/manifest.json     what each of them holds: sequence, checksum, rows
    exports/sequence/<n>                one create-only marker per sequence number

A sequence number is taken by creating its marker create-only, starting
above the highest one known: of any number of exports racing, exactly one
creates each marker, so every run gets a number no other run has.

Writers never blindly overwrite: a dataset document and the manifest are
replaced by compare-and-swap, and only by a run with a higher sequence than
what is stored. Exports racing therefore end with every dataset file holding
the newest document and the manifest holding that document's checksum;
an export of some datasets keeps the other datasets' entries. While a run
is between writing a file and the manifest, a reader can see the two
disagree; the run's bundle under ``exports/history/`` never changes after it
is written, so that is the snapshot to copy or verify mid-export.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.clock import isoformat
from shared.settings import REPO_ROOT
from shared.storage import ObjectStore, PreconditionFailed

DASHBOARD_PREFIX = "exports/dashboard/"
MANIFEST_NAME = f"{DASHBOARD_PREFIX}manifest.json"
SEQUENCE_PREFIX = "exports/sequence/"
MANIFEST_SCHEMA_VERSION = 1
COMMIT_SHA_VARIABLE = "OPSPLANE_COMMIT_SHA"
_SEQUENCE_WIDTH = 12
_MAX_CAS_ROUNDS = 50


def dataset_object_name(dataset: str, prefix: str = DASHBOARD_PREFIX) -> str:
    return f"{prefix}{dataset}.json"


def sequence_marker_name(sequence: int) -> str:
    return f"{SEQUENCE_PREFIX}{sequence:0{_SEQUENCE_WIDTH}d}"


def checksum(data: bytes) -> str:
    """The hex SHA-256 of a dataset file's exact bytes."""
    return hashlib.sha256(data).hexdigest()


def encode(document: Mapping[str, Any]) -> bytes:
    """The one byte form documents are stored and checksummed in."""
    return json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False).encode() + b"\n"


def dataset_document(
    dataset: str, sequence: int, generated_at: datetime, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """A dataset file's content."""
    return {
        "dataset": dataset,
        "sequence": sequence,
        "generated_at": isoformat(generated_at),
        "rows": rows,
    }


@dataclass(frozen=True)
class ManifestEntry:
    """What the manifest says about one dataset file."""

    dataset: str
    sequence: int
    generated_at: str
    checksum_sha256: str
    rows: int

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "sequence": self.sequence,
            "generated_at": self.generated_at,
            "checksum_sha256": self.checksum_sha256,
            "rows": self.rows,
        }


def manifest_document(
    entries: Mapping[str, ManifestEntry], provenance: Mapping[str, Any], updated_at: datetime
) -> dict[str, Any]:
    """The manifest: one entry per dataset (by name) and the provenance of the newest run."""
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "updated_at": isoformat(updated_at),
        "datasets": [entries[name].to_json() for name in sorted(entries)],
        "provenance": dict(provenance),
    }


def entries_of(manifest: Mapping[str, Any] | None) -> dict[str, ManifestEntry]:
    """The entries of a stored manifest (empty when there is none)."""
    if not manifest:
        return {}
    return {
        str(item["dataset"]): ManifestEntry(
            dataset=str(item["dataset"]),
            sequence=int(item["sequence"]),
            generated_at=str(item["generated_at"]),
            checksum_sha256=str(item["checksum_sha256"]),
            rows=int(item["rows"]),
        )
        for item in manifest.get("datasets", [])
    }


def read_json(store: ObjectStore, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """A JSON object and its generation; (None, None) when absent or not a JSON object."""
    stored = store.get_or_none(name)
    if stored is None:
        return None, None
    try:
        data = json.loads(stored.data)
    except ValueError:
        return None, stored.generation
    return (data if isinstance(data, dict) else None), stored.generation


# Sequence numbers


def highest_known_sequence(store: ObjectStore) -> int:
    """The manifest's highest sequence, raised by any marker created above it."""
    manifest, _ = read_json(store, MANIFEST_NAME)
    try:
        known = max((entry.sequence for entry in entries_of(manifest).values()), default=0)
    except (KeyError, TypeError, ValueError):
        known = 0
    start_after = sequence_marker_name(known) if known else None
    for info in store.list(SEQUENCE_PREFIX, start_after=start_after):
        tail = info.name[len(SEQUENCE_PREFIX) :]
        if tail.isdigit():
            known = max(known, int(tail))
    return known


def allocate_sequence(store: ObjectStore, now: datetime) -> int:
    """A sequence number no other export has: the first marker this call creates."""
    candidate = highest_known_sequence(store) + 1
    body = json.dumps({"created_at": isoformat(now)}).encode()
    while not store.create(sequence_marker_name(candidate), body):
        candidate += 1
    return candidate


def prune_sequence_markers(store: ObjectStore, below: int) -> int:
    """Delete markers below ``below`` (the newest is always kept); returns how many went."""
    removed = 0
    for info in store.list(SEQUENCE_PREFIX):
        tail = info.name[len(SEQUENCE_PREFIX) :]
        if not tail.isdigit() or int(tail) >= below:
            break
        removed += store.delete_if_exists(info.name)
    return removed


# Compare-and-swap writes that only ever move forward


def put_newer(store: ObjectStore, name: str, data: bytes, sequence: int) -> bool:
    """Write a document unless the stored one has a sequence at least as high.

    True when ours was written, False when a newer run's document stays.
    """
    for _ in range(_MAX_CAS_ROUNDS):
        current, generation = read_json(store, name)
        if generation is not None and _sequence_of(current) >= sequence:
            return False
        try:
            store.put_if_unchanged(name, data, generation)
        except PreconditionFailed:
            continue
        return True
    raise PreconditionFailed(f"{name}: too many concurrent writers")


def _sequence_of(document: Mapping[str, Any] | None) -> int:
    try:
        return int((document or {}).get("sequence", 0))
    except (TypeError, ValueError):
        return 0


def merge_manifest(
    store: ObjectStore,
    ours: Mapping[str, ManifestEntry],
    provenance: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Fold our entries into the stored manifest, keeping each dataset's newest entry.

    Returns the manifest as written (or as left, when every stored entry is newer).
    """
    for _ in range(_MAX_CAS_ROUNDS):
        current, generation = read_json(store, MANIFEST_NAME)
        try:
            entries = entries_of(current)
        except (KeyError, TypeError, ValueError):
            entries = {}  # a damaged manifest is rebuilt from what this run knows
        newest = max((e.sequence for e in entries.values()), default=0)
        changed = False
        for name, entry in ours.items():
            if name not in entries or entries[name].sequence < entry.sequence:
                entries[name] = entry
                changed = True
        if not changed and current is not None:
            return current
        ours_newest = max((e.sequence for e in ours.values()), default=0)
        kept_provenance = (
            provenance
            if ours_newest >= newest or current is None
            else current.get("provenance", provenance)
        )
        document = manifest_document(entries, kept_provenance, now)
        try:
            store.put_if_unchanged(MANIFEST_NAME, encode(document), generation)
        except PreconditionFailed:
            continue
        return document
    raise PreconditionFailed(f"{MANIFEST_NAME}: too many concurrent writers")


# Provenance


def commit_sha(
    env: Mapping[str, str] | None = None,
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> str | None:
    """``OPSPLANE_COMMIT_SHA``, else ``git rev-parse HEAD`` of the source tree, else None."""
    environ = os.environ if env is None else env
    given = environ.get(COMMIT_SHA_VARIABLE, "").strip()
    if given:
        return given
    if not (REPO_ROOT / ".git").exists():
        return None
    try:
        done = run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and sha else None
