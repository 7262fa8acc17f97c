"""The object store's exception tree.

    StoreError
    ├── ObjectNotFound          the object (or bucket prefix) does not exist
    ├── PreconditionFailed      create-only or compare-and-swap lost the race
    ├── StoreUnavailable        transient: network, throttling, 5xx; safe to retry later
    └── StoreMisconfigured      unknown scheme, missing bucket, missing credentials

Backends translate their SDK's errors into these at one point each, with
``raise ... from exc`` so the original stays in the traceback.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every object store error."""


class ObjectNotFound(StoreError):
    """The named object does not exist."""


class PreconditionFailed(StoreError):
    """A create-only or generation-match precondition did not hold."""


class StoreUnavailable(StoreError):
    """The backend is unreachable or overloaded; the call may succeed later."""


class StoreMisconfigured(StoreError):
    """The store URL, bucket or credentials are wrong; retrying will not help."""
