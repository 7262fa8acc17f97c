"""RunStore: one object per run, every change a compare-and-swap.

Layout (no hot objects: each run and each idempotency key is its own name)::

    runs/<run_id>.json                 the run; metadata carries status and job type
    idempotency/<sha256(owner, key)>   create-only: which run a key produced

Listing metadata (``status``, ``job_type``) lets scans filter runs without
reading them; backends that do not return metadata fall back to a read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from shared.jobs.models import Run, RunStatus, check_transition
from shared.storage import ObjectInfo, ObjectNotFound, ObjectStore, PreconditionFailed

RUNS_PREFIX = "runs/"
IDEMPOTENCY_PREFIX = "idempotency/"
WATERMARK = "sweeper/watermark.json"
MAX_CAS_RETRIES = 20


class RunNotFound(LookupError):
    """No run has this id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run {run_id!r}")
        self.run_id = run_id


class IdempotencyConflict(Exception):
    """The idempotency key was used before with a different request."""


@dataclass(frozen=True)
class VersionedRun:
    """A run as read, with the generation a compare-and-swap must match."""

    run: Run
    generation: str


def run_object_name(run_id: str) -> str:
    return f"{RUNS_PREFIX}{run_id}.json"


def run_id_from_name(name: str) -> str:
    return name[len(RUNS_PREFIX) : -len(".json")]


def request_fingerprint(job_type: str, params: Any, extra: dict[str, Any]) -> str:
    """What makes two submissions "the same request" for an idempotency key."""
    canonical = json.dumps(
        {"job_type": job_type, "params": params, **extra}, sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _metadata(run: Run) -> dict[str, str]:
    return {"status": run.status.value, "job_type": run.job_type}


def _valid_run_id(run_id: str) -> bool:
    return bool(run_id) and "/" not in run_id and run_id not in (".", "..") and len(run_id) < 200


class RunStore:
    """Runs in an object store; the only code that writes ``runs/``."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    # Reads

    def get(self, run_id: str) -> VersionedRun:
        """The run and its generation; RunNotFound when there is none."""
        if not _valid_run_id(run_id):
            raise RunNotFound(run_id)
        try:
            stored = self.store.get(run_object_name(run_id))
        except ObjectNotFound:
            raise RunNotFound(run_id) from None
        return VersionedRun(Run.from_json(stored.data), stored.generation)

    def status_of(self, info: ObjectInfo) -> RunStatus | None:
        """The status a listing entry carries (a read when metadata is missing)."""
        status = info.metadata.get("status") if info.metadata else None
        if status:
            return RunStatus(status)
        try:
            return Run.from_json(self.store.get(info.name).data).status
        except ObjectNotFound:
            return None

    def list_infos(
        self, *, start_after: str | None = None, id_floor: str | None = None
    ) -> Iterator[ObjectInfo]:
        """Listing entries of runs in id (creation) order.

        ``start_after`` is a run id (exclusive); ``id_floor`` a prefix every
        listed id must sort at or after (a time from :func:`run_id_floor`).
        """
        bounds = [run_object_name(start_after)] if start_after else []
        if id_floor:
            bounds.append(RUNS_PREFIX + id_floor)
        yield from self.store.list(RUNS_PREFIX, start_after=max(bounds) if bounds else None)

    def list(
        self,
        *,
        status: RunStatus | None = None,
        job_type: str | None = None,
        start_after: str | None = None,
        id_floor: str | None = None,
        limit: int = 50,
    ) -> tuple[list[Run], str | None]:
        """One page of runs matching the filters, and the cursor of the next page."""
        runs: list[Run] = []
        for info in self.list_infos(start_after=start_after, id_floor=id_floor):
            meta = info.metadata or {}
            if status and meta.get("status") and meta["status"] != status.value:
                continue
            if job_type and meta.get("job_type") and meta["job_type"] != job_type:
                continue
            try:
                run = self.get(run_id_from_name(info.name)).run
            except RunNotFound:
                continue
            if (status and run.status != status) or (job_type and run.job_type != job_type):
                continue
            runs.append(run)
            if len(runs) == limit:
                return runs, run.run_id
        return runs, None

    # Writes

    def create(self, run: Run) -> VersionedRun:
        """Store a new run (create-only); PreconditionFailed when the id exists."""
        generation = self.store.put(
            run_object_name(run.run_id), run.to_json(), if_absent=True, metadata=_metadata(run)
        )
        return VersionedRun(run, generation)

    def replace(self, current: VersionedRun, new: Run) -> VersionedRun:
        """Compare-and-swap ``current`` for ``new``; PreconditionFailed when it changed.

        The transition is checked against the status that was read, so an
        illegal move raises IllegalTransition before anything is written.
        """
        check_transition(new.run_id, current.run.status, new.status)
        generation = self.store.put(
            run_object_name(new.run_id),
            new.to_json(),
            if_generation=current.generation,
            metadata=_metadata(new),
        )
        return VersionedRun(new, generation)

    def update(
        self,
        run_id: str,
        change: Callable[[Run], Run | None],
        *,
        current: VersionedRun | None = None,
    ) -> tuple[VersionedRun, bool]:
        """Apply ``change`` by compare-and-swap, re-reading and re-deciding on conflict.

        ``change`` sees the latest run and returns the new one, or None to
        leave it alone. Returns the run as stored and whether this call wrote.
        """
        versioned = current or self.get(run_id)
        for _ in range(MAX_CAS_RETRIES):
            new = change(versioned.run)
            if new is None:
                return versioned, False
            try:
                return self.replace(versioned, new), True
            except PreconditionFailed:
                versioned = self.get(run_id)
        raise PreconditionFailed(f"run {run_id} kept changing; gave up after {MAX_CAS_RETRIES}")

    # The finished-prefix watermark (written by the sweeper, read by every scan)

    def read_watermark(self) -> str | None:
        """The newest run id before which every run is final, as last recorded."""
        stored = self.store.get_or_none(WATERMARK)
        return str(json.loads(stored.data)["after"]) if stored else None

    def write_watermark(self, run_id: str) -> None:
        # One small object written once per sweep (about a minute apart): never hot.
        self.store.put(WATERMARK, json.dumps({"after": run_id}).encode())

    # Idempotency keys

    def run_for_idempotency_key(self, owner: str, key: str, fingerprint: str) -> Run | None:
        """The run an earlier request created under ``key``, if it exists.

        Raises IdempotencyConflict when the key was used for a different request.
        """
        bound = self.store.get_or_none(_idempotency_object(owner, key))
        if bound is None:
            return None
        doc = json.loads(bound.data)
        if doc.get("fingerprint") != fingerprint:
            raise IdempotencyConflict(
                "this Idempotency-Key was already used with a different request body"
            )
        try:
            return self.get(str(doc["run_id"])).run
        except RunNotFound:
            return None  # bound, but its run was never created: not a run yet

    def claim_idempotency_key(self, owner: str, key: str, run_id: str, fingerprint: str) -> str:
        """Bind ``key`` to ``run_id`` (create-only); returns the run id the key names.

        Raises IdempotencyConflict when the key was used for a different request.
        """
        name = _idempotency_object(owner, key)
        doc = {"run_id": run_id, "fingerprint": fingerprint}
        if self.store.create(name, json.dumps(doc).encode()):
            return run_id
        existing = json.loads(self.store.get(name).data)
        if existing.get("fingerprint") != fingerprint:
            raise IdempotencyConflict(
                "this Idempotency-Key was already used with a different request body"
            )
        return str(existing["run_id"])


def _idempotency_object(owner: str, key: str) -> str:
    return IDEMPOTENCY_PREFIX + hashlib.sha256(f"{owner}\n{key}".encode()).hexdigest()
