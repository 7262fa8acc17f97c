"""What the dashboard shows: the exported documents, or live ones before the first export."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import logs
from shared.clock import isoformat
from shared.exports.datasets import DATASET_NAMES, DATASETS, check_names
from shared.exports.manifest import dataset_document, dataset_object_name
from shared.redaction import redact_text
from shared.storage import ObjectStore

_log = logs.get_logger("opsplane.exports")


@dataclass(frozen=True)
class Current:
    """One dataset document per name and where each came from."""

    documents: dict[str, dict[str, Any]]
    live: tuple[str, ...]  # built for this request: not exported yet
    unavailable: tuple[str, ...] = ()  # neither exported nor buildable now

    def describe(self, now: datetime) -> str:
        sequences = [int(d["sequence"]) for n, d in self.documents.items() if n not in self.live]
        parts = []
        if sequences:
            parts.append(f"export sequence {max(sequences)}")
        if self.live:
            parts.append(f"live (not exported yet): {', '.join(self.live)}")
        if self.unavailable:
            parts.append(f"unavailable: {', '.join(self.unavailable)} (see the logs)")
        return " · ".join([*parts, f"rendered {isoformat(now)}"])


def read_exported(store: ObjectStore, dataset: str) -> bytes | None:
    """A dataset file's (or ``manifest``'s) bytes as exported; ValueError for an unknown name."""
    if dataset != "manifest":
        check_names([dataset])
    stored = store.get_or_none(dataset_object_name(dataset))
    return None if stored is None else stored.data


def current_documents(store: ObjectStore, now: datetime) -> Current:
    """Every dataset: the exported document, else one built now (not stored)."""
    documents: dict[str, dict[str, Any]] = {}
    live: list[str] = []
    unavailable: list[str] = []
    for name in DATASET_NAMES:
        data = read_exported(store, name)
        document = None
        if data is not None:
            try:
                document = json.loads(data)
            except ValueError:
                document = None  # a damaged file shows as live data, verify names it
        if not isinstance(document, dict):
            try:
                rows = DATASETS[name].build(store, now)
            except Exception as exc:  # noqa: BLE001 - one dataset must not take the page down
                _log.warning(
                    "dataset unavailable",
                    extra={"fields": {"dataset": name, "error": redact_text(repr(exc))}},
                )
                unavailable.append(name)
                continue
            document = dataset_document(name, 1, now, rows)
            live.append(name)
        documents[name] = document
    return Current(documents, tuple(live), tuple(unavailable))
