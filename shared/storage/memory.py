"""The in-memory reference backend: exact semantics, shipped for tests and demos."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.storage.base import (
    DEFAULT_PAGE_SIZE,
    ObjectInfo,
    ObjectStore,
    Page,
    StoredObject,
    check_name,
    page_of,
    resume_after,
)
from shared.storage.errors import ObjectNotFound, PreconditionFailed


@dataclass(frozen=True)
class _Entry:
    data: bytes
    generation: int
    updated: datetime
    metadata: Mapping[str, str]


class MemoryStore(ObjectStore):
    """A dict guarded by one lock; generations count up from 1 per store."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.Lock()
        self._objects: dict[str, _Entry] = {}
        self._names: list[str] = []  # kept sorted for prefix listing
        self._counter = 0

    def get(self, name: str) -> StoredObject:
        with self._lock:
            entry = self._objects.get(name)
        if entry is None:
            raise ObjectNotFound(name)
        return StoredObject(name, entry.data, str(entry.generation), entry.updated, entry.metadata)

    def put(
        self,
        name: str,
        data: bytes,
        *,
        if_absent: bool = False,
        if_generation: str | None = None,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> str:
        check_name(name)
        with self._lock:
            current = self._objects.get(name)
            _check_preconditions(name, current, if_absent, if_generation)
            self._counter += 1
            self._objects[name] = _Entry(
                bytes(data), self._counter, datetime.now(UTC), dict(metadata or {})
            )
            if current is None:
                bisect.insort(self._names, name)
            return str(self._counter)

    def delete(self, name: str, *, if_generation: str | None = None) -> None:
        with self._lock:
            current = self._objects.get(name)
            if current is None:
                raise ObjectNotFound(name)
            _check_preconditions(name, current, False, if_generation)
            del self._objects[name]
            del self._names[bisect.bisect_left(self._names, name)]

    def list_page(
        self,
        prefix: str,
        *,
        page_token: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_after: str | None = None,
    ) -> Page:
        after = resume_after(page_token, start_after)
        with self._lock:
            start = bisect.bisect_right(self._names, after) if after else 0
            start = max(start, bisect.bisect_left(self._names, prefix))
            items: list[ObjectInfo] = []
            for name in self._names[start:]:
                if not name.startswith(prefix) or len(items) == page_size:
                    break
                entry = self._objects[name]
                items.append(
                    ObjectInfo(
                        name, str(entry.generation), len(entry.data), entry.updated, entry.metadata
                    )
                )
            more = start + len(items) < len(self._names) and self._names[
                start + len(items)
            ].startswith(prefix)
        return page_of(items, more)


def _check_preconditions(
    name: str, current: _Entry | None, if_absent: bool, if_generation: str | None
) -> None:
    if if_absent and current is not None:
        raise PreconditionFailed(f"{name} already exists")
    if if_generation is not None and (current is None or str(current.generation) != if_generation):
        raise PreconditionFailed(f"{name} is not at generation {if_generation}")
