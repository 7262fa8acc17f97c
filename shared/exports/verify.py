"""``opsplane export verify``: the bundle is what its manifest says it is.

The manifest and every dataset file it lists are validated against the JSON
Schemas shipped in ``schemas/``, and every file's SHA-256, row count and
sequence are re-computed and compared. Problems come back in a fixed order
(manifest first, then datasets by name), so the first one is stable.
The bundle is read through a ``Reader``: the object store's
``exports/dashboard/`` or a directory an upload command received.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.exports.datasets import DATASET_NAMES
from shared.exports.manifest import DASHBOARD_PREFIX, checksum
from shared.storage import ObjectStore

SCHEMA_DIR = Path(__file__).with_name("schemas")
Reader = Callable[[str], bytes | None]  # file name in the bundle -> bytes, None when absent


@dataclass(frozen=True)
class Problem:
    """One way the bundle differs from its manifest or its schemas."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@functools.cache
def validator(name: str) -> Any:
    """The JSON Schema validator of ``manifest`` or a dataset."""
    import jsonschema

    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _schema_problem(name: str, document: Any) -> str | None:
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    first = errors[0]
    where = "/".join(str(part) for part in first.absolute_path) or "(root)"
    return f"does not match its schema at {where}: {first.message}"


def store_reader(store: ObjectStore, prefix: str = DASHBOARD_PREFIX) -> Reader:
    def read(name: str) -> bytes | None:
        stored = store.get_or_none(prefix + name)
        return None if stored is None else stored.data

    return read


def directory_reader(directory: Path) -> Reader:
    def read(name: str) -> bytes | None:
        path = directory / name
        return path.read_bytes() if path.is_file() else None

    return read


def _load(read: Reader, name: str) -> tuple[Any, bytes | None, str | None]:
    data = read(name)
    if data is None:
        return None, None, "is missing"
    try:
        return json.loads(data), data, None
    except (UnicodeDecodeError, ValueError) as exc:
        return None, data, f"is not valid JSON: {exc}"


def verify_bundle(read: Reader) -> list[Problem]:
    """Every problem of the bundle, manifest first; an empty list when it verifies."""
    manifest, _, error = _load(read, "manifest.json")
    if error:
        return [Problem("manifest.json", error)]
    schema_error = _schema_problem("manifest", manifest)
    if schema_error:
        return [Problem("manifest.json", schema_error)]
    problems: list[Problem] = []
    seen: set[str] = set()
    entries = sorted(manifest["datasets"], key=lambda e: DATASET_NAMES.index(e["dataset"]))
    for entry in entries:
        name = entry["dataset"]
        file = f"{name}.json"
        if name in seen:
            problems.append(Problem("manifest.json", f"lists {name} twice"))
            continue
        seen.add(name)
        problems.extend(_verify_dataset(read, file, entry))
    return problems


def _verify_dataset(read: Reader, file: str, entry: dict[str, Any]) -> list[Problem]:
    document, data, error = _load(read, file)
    if data is None:
        return [Problem(file, "is listed in the manifest but missing")]
    problems: list[Problem] = []
    actual = checksum(data)
    if actual != entry["checksum_sha256"]:
        problems.append(
            Problem(
                file,
                f"checksum mismatch: the manifest says {entry['checksum_sha256']}, "
                f"the file hashes to {actual}",
            )
        )
    if error:
        return [*problems, Problem(file, error)]
    schema_error = _schema_problem(entry["dataset"], document)
    if schema_error:
        return [*problems, Problem(file, schema_error)]
    if len(document["rows"]) != entry["rows"]:
        problems.append(
            Problem(file, f"has {len(document['rows'])} rows; the manifest says {entry['rows']}")
        )
    if document["sequence"] != entry["sequence"]:
        problems.append(
            Problem(
                file,
                f"is sequence {document['sequence']}; the manifest says {entry['sequence']}",
            )
        )
    return problems
