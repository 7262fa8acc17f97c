"""A store wrapper that counts the operations reaching the backend.

Object storage is billed and rate-limited per operation, so "how many reads
and writes does this path cost" is a question operators and benchmarks ask
alike. Wrap any store::

    store = CountingStore(open_store(url))
    ...
    store.ops["put"], store.ops["get"], store.listed, store.operations

Every port method is passed through unchanged; only the counting is added.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping

from shared.storage.base import DEFAULT_PAGE_SIZE, ObjectInfo, ObjectStore, Page, StoredObject

# The operation names used as keys of ``CountingStore.ops``.
OPERATIONS = ("get", "put", "delete", "list")


class CountingStore(ObjectStore):
    """Delegates to ``inner`` and counts gets, puts, deletes and list pages.

    ``ops`` counts calls per operation, ``listed`` the items list pages
    returned. With ``record_names=True`` each call's object name (the prefix,
    for a listing) is kept too, in call order; it is off by default so a
    long measurement does not grow memory with every call.
    """

    def __init__(self, inner: ObjectStore, *, record_names: bool = False) -> None:
        self.inner = inner
        self.url = inner.url
        self.record_names = record_names
        self.ops: Counter[str] = Counter()
        self.listed = 0
        self.calls: list[tuple[str, str]] = []

    def reset(self) -> None:
        """Forget everything counted so far."""
        self.ops.clear()
        self.listed = 0
        self.calls.clear()

    @property
    def operations(self) -> int:
        """Every call that reached the store: gets, puts, deletes and list pages."""
        return sum(self.ops.values())

    def names(self, operation: str) -> list[str]:
        """Names passed to ``operation``, in call order (needs ``record_names``)."""
        return [name for op, name in self.calls if op == operation]

    def by_prefix(self, operation: str) -> Counter[str]:
        """Calls of ``operation`` per first name segment ("runs", "stats", ...)."""
        return Counter(name.split("/", 1)[0] for name in self.names(operation))

    def _count(self, operation: str, name: str) -> None:
        self.ops[operation] += 1
        if self.record_names:
            self.calls.append((operation, name))

    def get(self, name: str) -> StoredObject:
        self._count("get", name)
        return self.inner.get(name)

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
        self._count("put", name)
        return self.inner.put(
            name,
            data,
            if_absent=if_absent,
            if_generation=if_generation,
            metadata=metadata,
            content_type=content_type,
        )

    def delete(self, name: str, *, if_generation: str | None = None) -> None:
        self._count("delete", name)
        self.inner.delete(name, if_generation=if_generation)

    def list_page(
        self,
        prefix: str,
        *,
        page_token: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_after: str | None = None,
    ) -> Page:
        self._count("list", prefix)
        page = self.inner.list_page(
            prefix, page_token=page_token, page_size=page_size, start_after=start_after
        )
        self.listed += len(page.items)
        return page

    def list(
        self,
        prefix: str = "",
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_after: str | None = None,
    ) -> Iterator[ObjectInfo]:
        # Page by page through list_page above, so every page is counted even
        # when the inner backend overrides list() with a faster walk.
        return super().list(prefix, page_size=page_size, start_after=start_after)

    def close(self) -> None:
        self.inner.close()
