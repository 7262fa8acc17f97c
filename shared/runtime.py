"""Process-wide singletons resolved once: settings and the object store.

Functions are stateless between requests except for these caches, which are
what a warm Cloud Run instance should reuse. Tests call :func:`reset`.
"""

from __future__ import annotations

import functools

from shared.settings import Settings
from shared.storage import ObjectStore, open_store


@functools.cache
def settings() -> Settings:
    """The validated settings of this process."""
    return Settings.from_env()


@functools.cache
def store() -> ObjectStore:
    """The object store named by ``OPSPLANE_STORE``."""
    return open_store(settings().store_url)


def reset() -> None:
    """Forget cached settings and store (the environment changed)."""
    settings.cache_clear()
    store.cache_clear()
