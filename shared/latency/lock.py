"""A lease lock in the object store: create-only to take it, CAS to steal it.

The lock object records who holds it and until when. A run that finds an
unexpired lease held by someone else gives up (the caller skips its run); a
lease whose holder crashed simply expires, and the next run takes it over with
a compare-and-swap on the generation it read, so two runs racing for an expired
lease cannot both win.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.clock import Clock, isoformat, parse_iso
from shared.storage import ObjectStore
from shared.storage.errors import ObjectNotFound, PreconditionFailed

_MAX_ROUNDS = 5


@dataclass(frozen=True)
class Lease:
    """A lease this process holds (``generation`` is what releasing checks)."""

    name: str
    holder: str
    expires_at: datetime
    generation: str


@dataclass(frozen=True)
class Held:
    """Somebody else's unexpired lease."""

    holder: str
    expires_at: datetime


class LeaseLock:
    """One named lock with a fixed time to live."""

    def __init__(self, store: ObjectStore, name: str, *, ttl: timedelta, clock: Clock) -> None:
        self._store = store
        self.name = name
        self._ttl = ttl
        self._clock = clock

    def acquire(self, holder: str) -> Lease | Held:
        """Take the lease, or return who holds it while it has not expired."""
        for _ in range(_MAX_ROUNDS):
            now = self._clock()
            expires_at = now + self._ttl
            body = json.dumps(
                {
                    "holder": holder,
                    "acquired_at": isoformat(now),
                    "expires_at": isoformat(expires_at),
                },
                sort_keys=True,
            ).encode()
            current = self._store.get_or_none(self.name)
            try:
                if current is None:
                    generation = self._store.put(self.name, body, if_absent=True)
                else:
                    held = _read(current.data)
                    if held is not None and held.expires_at > now:
                        return held
                    # Expired or unreadable: take it over, but only from the version we read.
                    generation = self._store.put(self.name, body, if_generation=current.generation)
            except PreconditionFailed:
                continue  # somebody moved first; look again
            return Lease(self.name, holder, expires_at, generation)
        current = self._store.get_or_none(self.name)
        held = _read(current.data) if current is not None else None
        return held or Held("unknown", self._clock() + self._ttl)

    def release(self, lease: Lease) -> bool:
        """Drop the lease if it is still ours; False when it expired and was taken."""
        try:
            self._store.delete(self.name, if_generation=lease.generation)
        except (ObjectNotFound, PreconditionFailed):
            return False
        return True


def _read(data: bytes) -> Held | None:
    try:
        document = json.loads(data)
        return Held(str(document["holder"]), parse_iso(str(document["expires_at"])))
    except (ValueError, KeyError, TypeError):
        return None
