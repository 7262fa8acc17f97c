"""The embedded default: one file per object under a local directory.

Layout under the root::

    objects/<seg>.d/<seg>.d/<seg>.o   one object: a JSON header line, then the bytes
    locks/<hh>/<sha256>.lock          one flock target per object name (removed on delete)

Each segment of a name is percent-encoded and given a suffix (``.d`` for a
directory, ``.o`` for an object), so the object ``a`` and the objects ``a/b``
never fight over one path. A write goes to a temporary file in the target
directory (suffix ``.tmp``), is fsynced and renamed over the object with
``os.replace``: readers see the old bytes or the new ones, never a mix, and
need no lock. Writers and deleters take an exclusive ``flock`` on the object's
lock file, which lives outside ``objects/`` and is never listed, so
preconditions hold across threads and processes on one machine.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from shared.clock import Clock, utcnow
from shared.storage.base import (
    DEFAULT_PAGE_SIZE,
    ObjectInfo,
    ObjectStore,
    Page,
    StoredObject,
    check_name,
    check_page_size,
    page_of,
    resume_after,
)
from shared.storage.errors import (
    ObjectNotFound,
    PreconditionFailed,
    StoreMisconfigured,
    StoreUnavailable,
)

_DIR_SUFFIX = ".d"
_OBJ_SUFFIX = ".o"
_TMP_SUFFIX = ".tmp"
# Attempts at creating the target directory when a concurrent delete prunes it.
_MKDIR_ATTEMPTS = 20


@dataclass(frozen=True)
class _Header:
    generation: str
    updated: datetime
    metadata: Mapping[str, str]
    content_type: str
    length: int  # bytes of the header line, newline included


class FileStore(ObjectStore):
    """Objects as files under ``root``; see the module docstring for the layout."""

    def __init__(self, root: str | os.PathLike[str], *, clock: Clock = utcnow) -> None:
        self.root = Path(root)
        self.url = f"file://{self.root}"
        self._clock = clock
        self._objects = self.root / "objects"
        self._locks = self.root / "locks"
        for directory in (self._objects, self._locks):
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError) as exc:
                raise StoreMisconfigured(
                    f"file store root {self.root} cannot be used: a path on the way "
                    f"is a regular file, not a directory ({exc.strerror})"
                ) from exc
            except OSError as exc:
                raise StoreMisconfigured(
                    f"file store root {self.root} cannot be created: {exc.strerror}"
                ) from exc
        if not os.access(self._objects, os.W_OK | os.X_OK):
            raise StoreMisconfigured(f"file store root {self.root} is not writable")

    @classmethod
    def from_url(cls, url: str) -> FileStore:
        """``file:///abs/path`` or ``file://relative/path`` (relative to the cwd)."""
        parts = urlsplit(url)
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise StoreMisconfigured(f"file store URL {url!r} names no directory")
        return cls(path)

    # -- paths -------------------------------------------------------------

    def _path(self, name: str) -> Path:
        *dirs, leaf = check_name(name).split("/")
        path = self._objects
        for segment in dirs:
            path /= _encode(segment) + _DIR_SUFFIX
        return path / (_encode(leaf) + _OBJ_SUFFIX)

    def _lock_path(self, name: str) -> Path:
        digest = hashlib.sha256(name.encode()).hexdigest()
        return self._locks / digest[:2] / f"{digest}.lock"

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[Path]:
        """Hold the object's exclusive lock; yields the lock file's path.

        A delete removes the lock file while holding it, so lock files do not
        pile up for names that no longer exist. A waiter that then wins the
        lock on the removed file notices (its inode is no longer the one at
        the path) and queues on the new file instead.
        """
        path = self._lock_path(name)
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            except FileNotFoundError:  # first lock in this shard: make its directory
                path.parent.mkdir(exist_ok=True)
                continue
            try:
                # flock locks belong to the open file description, so two threads
                # of one process exclude each other just like two processes do.
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    current = os.fstat(fd).st_ino == os.stat(path).st_ino
                except FileNotFoundError:
                    current = False
            except BaseException:
                os.close(fd)
                raise
            if current:
                break
            os.close(fd)
        try:
            yield path
        finally:
            os.close(fd)  # closing releases the lock

    # -- the port ----------------------------------------------------------

    def get(self, name: str) -> StoredObject:
        path = self._path(name)
        with _translated(name):
            try:
                with open(path, "rb") as handle:
                    header = _parse_header(handle.readline(), path)
                    data = handle.read()
            except (FileNotFoundError, NotADirectoryError) as exc:
                raise ObjectNotFound(name) from exc
        return StoredObject(name, data, header.generation, header.updated, header.metadata)

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
        path = self._path(name)
        generation = f"{time.time_ns():x}{secrets.token_hex(4)}"
        header_line = _header_line(generation, self._clock(), metadata or {}, content_type)
        with _translated(name), self._locked(name):
            current = _read_header_or_none(path)
            _check_preconditions(name, current, if_absent, if_generation)
            tmp = self._create_temp(path)
            try:
                with open(tmp, "wb") as handle:
                    handle.write(header_line)
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
        return generation

    def delete(self, name: str, *, if_generation: str | None = None) -> None:
        path = self._path(name)
        with _translated(name), self._locked(name) as lock_path:
            current = _read_header_or_none(path)
            if current is None:
                raise ObjectNotFound(name)
            _check_preconditions(name, current, False, if_generation)
            path.unlink()
            lock_path.unlink()
            self._prune_empty_dirs(path.parent)

    def list_page(
        self,
        prefix: str,
        *,
        page_token: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_after: str | None = None,
    ) -> Page:
        check_page_size(page_size)
        after = resume_after(page_token, start_after)
        items: list[ObjectInfo] = []
        more = False
        with _translated(prefix):
            for info in self._infos(prefix, after):
                if len(items) == page_size:
                    more = True
                    break
                items.append(info)
        return page_of(items, more)

    def list(
        self,
        prefix: str = "",
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        start_after: str | None = None,
    ) -> Iterator[ObjectInfo]:
        """One ordered walk for the whole listing, instead of one walk per page."""
        check_page_size(page_size)
        with _translated(prefix):
            yield from self._infos(prefix, start_after)

    # -- helpers -----------------------------------------------------------

    def _infos(self, prefix: str, after: str | None) -> Iterator[ObjectInfo]:
        dir_part, _, _ = prefix.rpartition("/")
        directory = self._objects
        segments = dir_part.split("/") if dir_part else []
        for segment in segments:
            directory /= _encode(segment) + _DIR_SUFFIX
        for name in _ordered_walk(directory, "/".join(segments), prefix, after):
            info = _read_info(self._path(name), name)
            if info is not None:  # None: deleted since the directory was read
                yield info

    def _create_temp(self, path: Path) -> Path:
        tmp = path.with_name(f".{secrets.token_hex(8)}{_TMP_SUFFIX}")
        for _ in range(_MKDIR_ATTEMPTS):
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileNotFoundError:
                # A new prefix, or a delete pruned the directory in between: make it.
                # Trying the open first saves a mkdir call on every ordinary put.
                path.parent.mkdir(parents=True, exist_ok=True)
                continue
            os.close(fd)
            return tmp
        raise StoreUnavailable(f"could not create a temporary file next to {path}")

    def _prune_empty_dirs(self, directory: Path) -> None:
        # Leaves nothing behind for deleted prefixes; a concurrent put that loses
        # its directory here recreates it (see _create_temp).
        while directory != self._objects:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent


def _ordered_walk(directory: Path, base: str, prefix: str, after: str | None) -> Iterator[str]:
    """Names under ``directory`` in name order that start with ``prefix`` and sort after ``after``.

    A directory ``seg`` sorts as ``seg/``: every name inside it starts with
    that, so sorting siblings this way yields the global name order, and a
    whole subtree that sorts before ``after`` or outside ``prefix`` is skipped
    without being read.
    """
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    children: list[tuple[str, bool, str, str]] = []
    for entry in entries:
        if entry.name.endswith(_OBJ_SUFFIX):
            name = _join(base, unquote(entry.name[: -len(_OBJ_SUFFIX)]))
            children.append((name, False, name, entry.path))
        elif entry.name.endswith(_DIR_SUFFIX) and entry.is_dir(follow_symlinks=False):
            name = _join(base, unquote(entry.name[: -len(_DIR_SUFFIX)]))
            children.append((name + "/", True, name, entry.path))
        # anything else (temporary files) is not an object
    children.sort()
    for key, is_dir, name, path in children:
        if not is_dir:
            if name.startswith(prefix) and (after is None or name > after):
                yield name
            continue
        if not (key.startswith(prefix) or prefix.startswith(key)):
            continue
        if after is not None and after >= key and not after.startswith(key):
            continue  # everything in this subtree sorts before ``after``
        yield from _ordered_walk(Path(path), name, prefix, after)


def _join(base: str, segment: str) -> str:
    return f"{base}/{segment}" if base else segment


def _encode(segment: str) -> str:
    # Percent-encoding keeps every segment a single, portable file name; "."
    # stays readable because suffixes, not the dot, tell objects from dirs.
    return quote(segment, safe="-_.~=+,@")


def _header_line(
    generation: str, updated: datetime, metadata: Mapping[str, str], content_type: str
) -> bytes:
    header = {
        "generation": generation,
        "updated": updated.isoformat(),
        "metadata": dict(metadata),
        "content_type": content_type,
    }
    return json.dumps(header, separators=(",", ":")).encode() + b"\n"


def _parse_header(line: bytes, path: Path) -> _Header:
    try:
        raw = json.loads(line)
        return _Header(
            str(raw["generation"]),
            datetime.fromisoformat(raw["updated"]),
            dict(raw["metadata"]),
            str(raw["content_type"]),
            len(line),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreUnavailable(f"corrupt object file {path.name}: unreadable header") from exc


def _read_header_or_none(path: Path) -> _Header | None:
    try:
        with open(path, "rb") as handle:
            return _parse_header(handle.readline(), path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _read_info(path: Path, name: str) -> ObjectInfo | None:
    try:
        with open(path, "rb") as handle:
            header = _parse_header(handle.readline(), path)
            size = os.fstat(handle.fileno()).st_size - header.length
    except (FileNotFoundError, NotADirectoryError):
        return None
    return ObjectInfo(name, header.generation, size, header.updated, header.metadata)


def _check_preconditions(
    name: str, current: _Header | None, if_absent: bool, if_generation: str | None
) -> None:
    if if_absent and current is not None:
        raise PreconditionFailed(f"{name} already exists")
    if if_generation is not None and (current is None or current.generation != if_generation):
        raise PreconditionFailed(f"{name} is not at generation {if_generation}")


@contextlib.contextmanager
def _translated(name: str) -> Iterator[None]:
    """OS errors become store errors; the store's own errors pass through."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise ValueError(f"object name {name!r} is too long for the file store") from exc
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise StoreMisconfigured(f"file store cannot write {name!r}: {exc.strerror}") from exc
        raise StoreUnavailable(f"file store failed on {name!r}: {exc.strerror}") from exc
