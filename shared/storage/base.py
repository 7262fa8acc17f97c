"""The object store port: a tiny interface every backend implements.

Generations are opaque strings. A caller only ever compares them for equality
or hands one back as a precondition, so GCS generations, S3 ETags and the
file backend's counters all fit.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from shared.storage.errors import ObjectNotFound, PreconditionFailed

DEFAULT_PAGE_SIZE = 1000


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing tells about one object."""

    name: str
    generation: str
    size: int
    updated: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredObject:
    """An object's bytes together with the generation they were read at."""

    name: str
    data: bytes
    generation: str
    updated: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page of a listing; ``next_token`` is None on the last page."""

    items: list[ObjectInfo]
    next_token: str | None


class ObjectStore(abc.ABC):
    """get / put / delete with preconditions, and listing by prefix.

    Preconditions:
      * ``if_absent=True`` makes a put create-only;
      * ``if_generation=g`` makes a put or delete succeed only while the
        object's current generation is ``g`` (compare-and-swap).
    A failed precondition raises :class:`PreconditionFailed`; nothing is written.
    """

    url: str

    @abc.abstractmethod
    def get(self, name: str) -> StoredObject:
        """Read an object; raises ObjectNotFound when it does not exist."""

    @abc.abstractmethod
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
        """Write an object and return its new generation."""

    @abc.abstractmethod
    def delete(self, name: str, *, if_generation: str | None = None) -> None:
        """Delete an object; raises ObjectNotFound when it does not exist."""

    @abc.abstractmethod
    def list_page(
        self,
        prefix: str,
        *,
        page_token: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_after: str | None = None,
    ) -> Page:
        """One page of objects whose names start with ``prefix``, in name order."""

    def list(
        self,
        prefix: str = "",
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_after: str | None = None,
    ) -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, in name order, fetched page by page."""
        token: str | None = None
        while True:
            page = self.list_page(
                prefix, page_token=token, page_size=page_size, start_after=start_after
            )
            yield from page.items
            if page.next_token is None:
                return
            token = page.next_token

    # Conveniences written once above the primitives.

    def get_or_none(self, name: str) -> StoredObject | None:
        """Read an object, or None when it does not exist."""
        try:
            return self.get(name)
        except ObjectNotFound:
            return None

    def create(self, name: str, data: bytes, **kwargs: object) -> bool:
        """Create-only put; True when this call created the object."""
        try:
            self.put(name, data, if_absent=True, **kwargs)  # type: ignore[arg-type]
        except PreconditionFailed:
            return False
        return True

    def put_if_unchanged(
        self,
        name: str,
        data: bytes,
        generation: str | None,
        *,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> str:
        """Write over what was read: create-only when ``generation`` is None
        (nothing was there), else only while the object is still at it."""
        if generation is None:
            return self.put(
                name, data, if_absent=True, metadata=metadata, content_type=content_type
            )
        return self.put(
            name, data, if_generation=generation, metadata=metadata, content_type=content_type
        )

    def delete_if_exists(self, name: str, *, if_generation: str | None = None) -> bool:
        """Delete, treating a missing object as already deleted."""
        try:
            self.delete(name, if_generation=if_generation)
        except ObjectNotFound:
            return False
        return True

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release clients or handles; the default holds none."""


def check_name(name: str) -> str:
    """Reject names no backend can store the same way; returns the name."""
    if not name or name.startswith("/") or name.endswith("/"):
        raise ValueError(f"invalid object name {name!r}: empty, or starts or ends with '/'")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"invalid object name {name!r}: empty, '.' or '..' segment")
    return name


# Argument checks and page assembly shared by the backends, written once.


def check_put_preconditions(if_absent: bool, if_generation: str | None) -> None:
    """Refuse a put asking for both create-only and compare-and-swap."""
    if if_absent and if_generation is not None:
        raise ValueError("if_absent and if_generation cannot be combined")


def check_page_size(page_size: int) -> None:
    """Refuse a page size that could never return an item."""
    if page_size < 1:
        raise ValueError("page_size must be at least 1")


def resume_after(page_token: str | None, start_after: str | None) -> str | None:
    """The name a listing continues after.

    Page tokens are the last name returned, so a page can resume after any
    name, and ``start_after`` and paging share one mechanism: the later wins.
    """
    return max(filter(None, (page_token, start_after)), default=None)


def page_of(items: list[ObjectInfo], more: bool) -> Page:
    """A page of ``items``; its token is the last name when more follow."""
    return Page(items, items[-1].name if more and items else None)


def bucket_prefix(path: str) -> str:
    """A URL path as a bucket name prefix: "" or segments with one trailing '/'."""
    stripped = path.strip("/")
    return f"{stripped}/" if stripped else ""


def first_line(exc: BaseException) -> str:
    """An SDK error's first line, or its type when it has no message."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
