"""Object storage behind one port, opened by URL.

    open_store("memory://")                 the in-memory reference
    open_store("file:///var/lib/opsplane")  local files (the embedded default)
    open_store("gs://bucket/prefix")        Google Cloud Storage
    open_store("s3://bucket/prefix")        Amazon S3 and S3-compatible stores

Backends are imported lazily, so a function that never touches S3 never
pays for importing boto3.
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from shared.storage.base import ObjectInfo, ObjectStore, Page, StoredObject
from shared.storage.errors import (
    ObjectNotFound,
    PreconditionFailed,
    StoreError,
    StoreMisconfigured,
    StoreUnavailable,
)

# scheme -> (module, class, the extra to install when the import fails)
BACKENDS: dict[str, tuple[str, str, str]] = {
    "memory": ("shared.storage.memory", "MemoryStore", ""),
    "file": ("shared.storage.file", "FileStore", ""),
    "gs": ("shared.storage.gcs", "GCSStore", "google-cloud-storage"),
    "s3": ("shared.storage.s3", "S3Store", "boto3"),
}

_MEMORY_STORES: dict[str, ObjectStore] = {}


def open_store(url: str) -> ObjectStore:
    """Open the backend a store URL names; raises StoreMisconfigured otherwise."""
    scheme = urlsplit(url).scheme
    if scheme not in BACKENDS:
        known = ", ".join(f"{s}://" for s in BACKENDS)
        raise StoreMisconfigured(f"unknown store scheme in {url!r}; expected one of {known}")
    if scheme == "memory":
        # memory://name is one shared store per process, like a bucket would be.
        if url not in _MEMORY_STORES:
            from shared.storage.memory import MemoryStore

            _MEMORY_STORES[url] = MemoryStore(url)
        return _MEMORY_STORES[url]
    module_name, class_name, package = BACKENDS[scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StoreMisconfigured(
            f"the {scheme}:// store needs the {package or module_name} package: {exc}"
        ) from exc
    store: ObjectStore = getattr(module, class_name).from_url(url)
    return store


__all__ = [
    "BACKENDS",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "Page",
    "PreconditionFailed",
    "StoreError",
    "StoreMisconfigured",
    "StoreUnavailable",
    "StoredObject",
    "open_store",
]
