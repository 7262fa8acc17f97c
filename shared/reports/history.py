"""Report history: every report kept as JSON, Markdown and a signature.

    reports/history/<kind>/<period>/report.json
    reports/history/<kind>/<period>/report.md
    reports/history/<kind>/<period>/chart.svg        (weekly)
    reports/history/<kind>/<period>/signature.json   SHA-256 of each file, HMAC when keyed

``<period>`` is the period's end, ``YYYYMMDDTHHMMZ`` (UTC), so names sort by
time and retention is a listing, not a read per report. Objects are written
create-only; a second report for the same period (a forced re-run) gets
``<period>-2``, ``-3``... and never overwrites the first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.storage import ObjectStore, PreconditionFailed

HISTORY_PREFIX = "reports/history/"
RETENTION = timedelta(days=60)
SIGNATURE_FILE = "signature.json"
_STAMP = "%Y%m%dT%H%MZ"
_STAMP_LEN = len("20260101T0000Z")
_MAX_SAME_PERIOD = 100


@dataclass(frozen=True)
class HistoryEntry:
    """Where a report was kept and the SHA-256 of each file."""

    folder: str
    objects: Mapping[str, str]  # file name -> object name
    sha256: Mapping[str, str]  # file name -> hex digest
    signature: str | None

    def artefacts(self) -> dict[str, str]:
        """Object names and digests, as the run log records them."""
        found = dict(self.objects)
        found.update({f"{name}.sha256": digest for name, digest in self.sha256.items()})
        return found


def period_key(period_end: datetime) -> str:
    return period_end.astimezone(UTC).strftime(_STAMP)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_history(
    store: ObjectStore,
    kind: str,
    period_end: datetime,
    files: Mapping[str, bytes],
    *,
    secret: str | None = None,
) -> HistoryEntry:
    """Keep ``files`` (name -> bytes) for one report; returns names and digests.

    The signature object is written last: a folder with one is complete.
    """
    base = f"{HISTORY_PREFIX}{kind}/{period_key(period_end)}"
    digests = {name: sha256_hex(data) for name, data in sorted(files.items())}
    manifest = json.dumps(digests, sort_keys=True, separators=(",", ":")).encode()
    signature = (
        "sha256=" + hmac.new(secret.encode(), manifest, hashlib.sha256).hexdigest()
        if secret
        else None
    )
    for n in range(1, _MAX_SAME_PERIOD + 1):
        folder = base if n == 1 else f"{base}-{n}"
        first, *rest = sorted(files)
        try:
            store.put(f"{folder}/{first}", files[first], if_absent=True, content_type=_type(first))
        except PreconditionFailed:
            continue
        for name in rest:
            store.put(f"{folder}/{name}", files[name], if_absent=True, content_type=_type(name))
        doc = {"sha256": digests, "hmac_sha256": signature, "signed": "sha256 manifest"}
        store.put(
            f"{folder}/{SIGNATURE_FILE}",
            json.dumps(doc, sort_keys=True, indent=2).encode(),
            if_absent=True,
        )
        objects = {name: f"{folder}/{name}" for name in files}
        objects[SIGNATURE_FILE] = f"{folder}/{SIGNATURE_FILE}"
        return HistoryEntry(folder, objects, digests, signature)
    raise RuntimeError(f"more than {_MAX_SAME_PERIOD} reports kept for {base}")


def _type(name: str) -> str:
    if name.endswith(".md"):
        return "text/markdown; charset=utf-8"
    if name.endswith(".svg"):
        return "image/svg+xml"
    return "application/json"


def prune_history(
    store: ObjectStore, now: datetime, *, keep: timedelta = RETENTION, kind: str | None = None
) -> int:
    """Delete reports whose period ended more than ``keep`` before ``now``; returns objects."""
    cutoff = period_key(now - keep)
    prefix = f"{HISTORY_PREFIX}{kind}/" if kind else HISTORY_PREFIX
    removed = 0
    for info in store.list(prefix):
        parts = info.name[len(HISTORY_PREFIX) :].split("/")
        if len(parts) != 3:
            continue
        stamp = parts[1][:_STAMP_LEN]
        if len(stamp) == _STAMP_LEN and stamp < cutoff:
            removed += store.delete_if_exists(info.name)
    return removed
