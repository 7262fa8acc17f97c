"""Callbacks that could not be delivered: ``dlq/callbacks/<event_id>.json``.

One object per event, written create-only after the sender's last try, with
the payload redacted. A replay that lands deletes the letter; a replay that
fails records its error on the letter (compare-and-swap) and leaves it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.callbacks.payload import EVENT_ID, revision_of
from shared.clock import isoformat, parse_iso
from shared.redaction import redact_data, redact_text
from shared.storage import ObjectStore, PreconditionFailed

PREFIX = "dlq/callbacks/"


def letter_name(event_id: str) -> str:
    return f"{PREFIX}{event_id}.json"


@dataclass(frozen=True)
class CallbackDeadLetter:
    """An undelivered callback, as stored."""

    event_id: str
    run_id: str
    url: str
    payload: dict[str, Any]
    attempts: int
    last_error: str
    last_status: int | None
    created_at: datetime
    generation: str = ""

    def to_json(self) -> bytes:
        doc = {
            "event_id": self.event_id,
            "run_id": self.run_id,
            "url": self.url,
            "payload": self.payload,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "last_status": self.last_status,
            "created_at": isoformat(self.created_at),
        }
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, generation: str) -> CallbackDeadLetter:
        doc = json.loads(data)
        return cls(
            event_id=doc["event_id"],
            run_id=doc.get("run_id", ""),
            url=doc.get("url", ""),
            payload=doc["payload"],
            attempts=int(doc.get("attempts", 0)),
            last_error=doc.get("last_error", ""),
            last_status=doc.get("last_status"),
            created_at=parse_iso(doc["created_at"]),
            generation=generation,
        )


def write(
    store: ObjectStore,
    payload: dict[str, Any],
    *,
    url: str,
    attempts: int,
    error: str,
    status: int | None,
    now: datetime,
) -> bool:
    """Write the dead letter of an undelivered event once; False when one exists."""
    event_id = str(payload["eventId"])
    letter = CallbackDeadLetter(
        event_id=event_id,
        run_id=str(payload.get("runId", "")),
        url=url,
        payload=redact_payload(payload),
        attempts=attempts,
        last_error=redact_text(error),
        last_status=status,
        created_at=now,
    )
    return store.create(letter_name(event_id), letter.to_json(), metadata={"run_id": letter.run_id})


def redact_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its free-form parts redacted.

    Identifiers (event and run ids, status, revision) stay as they are: a
    replay must send them unchanged, and a random-looking run id is not a secret.
    """
    redacted = dict(payload)
    for key in ("result", "errorCode"):
        if redacted.get(key) is not None:
            redacted[key] = redact_data(redacted[key])
    return redacted


def read(store: ObjectStore, event_id: str) -> CallbackDeadLetter | None:
    if not EVENT_ID.fullmatch(event_id):
        return None
    stored = store.get_or_none(letter_name(event_id))
    return CallbackDeadLetter.from_json(stored.data, stored.generation) if stored else None


def list_letters(store: ObjectStore) -> Iterator[CallbackDeadLetter]:
    """Every dead letter, each run's events in revision order."""
    names = [info.name for info in store.list(PREFIX)]
    event_ids = [name[len(PREFIX) : -len(".json")] for name in names]
    # Names sort "r.10" before "r.2"; replaying in revision order keeps each run's story.
    event_ids.sort(key=lambda eid: (eid.rpartition(".")[0], revision_of(eid), eid))
    for event_id in event_ids:
        letter = read(store, event_id)
        if letter is not None:
            yield letter


def count(store: ObjectStore) -> int:
    return sum(1 for _ in store.list(PREFIX))


def resolve(store: ObjectStore, letter: CallbackDeadLetter) -> bool:
    """Delete a letter that was delivered; False when it already changed or went."""
    try:
        return store.delete_if_exists(letter_name(letter.event_id), if_generation=letter.generation)
    except PreconditionFailed:
        return False


def record_failure(
    store: ObjectStore, letter: CallbackDeadLetter, *, attempts: int, error: str, status: int | None
) -> None:
    """Note a failed replay on the letter; a concurrent change wins silently."""
    updated = CallbackDeadLetter(
        event_id=letter.event_id,
        run_id=letter.run_id,
        url=letter.url,
        payload=letter.payload,
        attempts=letter.attempts + attempts,
        last_error=redact_text(error),
        last_status=status,
        created_at=letter.created_at,
    )
    try:
        store.put(
            letter_name(letter.event_id),
            updated.to_json(),
            if_generation=letter.generation,
            metadata={"run_id": letter.run_id},
        )
    except PreconditionFailed:
        return
