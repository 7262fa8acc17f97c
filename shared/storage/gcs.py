"""Google Cloud Storage behind the object store port.

``gs://bucket/prefix``: every name is stored as ``prefix/name`` and listings
strip the prefix again. Preconditions map onto GCS generations: create-only is
``if_generation_match=0``, compare-and-swap is ``if_generation_match=<gen>``.

Retries follow Google's own rules: reads, listings and deletes use
``DEFAULT_RETRY``; a put is retried only when it carries a generation
precondition (``DEFAULT_RETRY_IF_GENERATION_SPECIFIED``), because repeating an
unconditional write could overwrite a newer one. A conditional put whose
response was lost and whose retry then fails its precondition surfaces as
PreconditionFailed even though the first attempt landed: callers that care
re-read and compare, as they must after any lost race.

A get costs two requests: the object's metadata, then its bytes pinned to that
generation, so data and metadata always belong to the same write.

google-cloud-storage is imported inside the functions that need it, so a
process that never opens a ``gs://`` store never pays for the import.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from shared.storage.base import (
    DEFAULT_PAGE_SIZE,
    ObjectInfo,
    ObjectStore,
    Page,
    StoredObject,
    bucket_prefix,
    check_name,
    check_page_size,
    check_put_preconditions,
    first_line,
    page_of,
    resume_after,
)
from shared.storage.errors import (
    ObjectNotFound,
    PreconditionFailed,
    StoreError,
    StoreMisconfigured,
    StoreUnavailable,
)

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
# (connect, read) seconds for one HTTP request; retries add their own deadline.
DEFAULT_TIMEOUT = (10.0, 60.0)
# How long DEFAULT_RETRY keeps retrying one call before giving up (Google's is 120 s).
DEFAULT_RETRY_DEADLINE_S = 30.0
# A read that keeps losing to concurrent writers gives up after this many tries.
_READ_ATTEMPTS = 5


class GCSStore(ObjectStore):
    """A bucket (and optional prefix) of Google Cloud Storage."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry_deadline: float = DEFAULT_RETRY_DEADLINE_S,
    ) -> None:
        if not bucket:
            raise StoreMisconfigured("a gs:// store needs a bucket: gs://<bucket>/<prefix>")
        self.bucket_name = bucket
        self.prefix = bucket_prefix(prefix)
        self.url = f"gs://{bucket}/{self.prefix}"
        self._client = client if client is not None else default_client()
        self._bucket = self._client.bucket(bucket)
        self._timeout = timeout
        self._retry, self._retry_if_conditional = _retry_policies(retry_deadline)

    @classmethod
    def from_url(cls, url: str, *, client: Any = None, verify: bool = True) -> GCSStore:
        """Open ``gs://bucket/prefix``; with ``verify`` a missing bucket fails here."""
        parts = urlsplit(url)
        store = cls(parts.netloc, parts.path, client=client)
        if verify:
            store.verify()
        return store

    def verify(self) -> None:
        """One cheap listing call: raises StoreMisconfigured for a missing bucket.

        A listing rather than a bucket read, because a service account with
        only object roles may list objects but not read bucket metadata.
        """
        with _translated(f"bucket {self.bucket_name}", missing_bucket=True):
            iterator = self._client.list_blobs(
                self.bucket_name,
                prefix=self.prefix or None,
                max_results=1,
                timeout=self._timeout,
                retry=self._retry,
            )
            next(iter(iterator.pages), None)

    # -- the port ----------------------------------------------------------

    def get(self, name: str) -> StoredObject:
        from google.api_core import exceptions

        full = self._full(name)
        for _ in range(_READ_ATTEMPTS):
            with _translated(name):
                blob = self._bucket.get_blob(full, timeout=self._timeout, retry=self._retry)
                if blob is None:
                    raise ObjectNotFound(name)
                try:
                    # Pinning the generation read above keeps bytes and metadata
                    # from two different writes apart; a newer write means retry.
                    data = blob.download_as_bytes(
                        if_generation_match=blob.generation,
                        timeout=self._timeout,
                        retry=self._retry,
                        checksum="crc32c",
                    )
                except (exceptions.PreconditionFailed, exceptions.NotFound):
                    continue
            return StoredObject(
                name, data, str(blob.generation), blob.updated, dict(blob.metadata or {})
            )
        raise StoreUnavailable(f"{name} kept changing while being read")

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
        check_put_preconditions(if_absent, if_generation)
        match = 0 if if_absent else _as_generation(name, if_generation)
        blob = self._bucket.blob(self._full(name))
        blob.metadata = dict(metadata) if metadata else None
        with _translated(name, not_found_is_precondition=match is not None):
            blob.upload_from_string(
                bytes(data),
                content_type=content_type,
                if_generation_match=match,
                timeout=self._timeout,
                retry=self._retry_if_conditional,
            )
        return str(blob.generation)

    def delete(self, name: str, *, if_generation: str | None = None) -> None:
        match = _as_generation(name, if_generation)
        blob = self._bucket.blob(self._full(name))
        with _translated(name):
            blob.delete(if_generation_match=match, timeout=self._timeout, retry=self._retry)

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
        full_prefix = self.prefix + prefix
        start = self.prefix + after if after and after >= prefix else None
        with _translated(prefix or "listing", missing_bucket=True):
            iterator = self._client.list_blobs(
                self.bucket_name,
                prefix=full_prefix or None,
                start_offset=start,
                max_results=page_size + 2,  # room for the skipped start and a look-ahead
                timeout=self._timeout,
                retry=self._retry,
            )
            blobs = list(iterator)
        items: list[ObjectInfo] = []
        more = False
        for blob in blobs:
            if blob.name == start:  # start_offset is inclusive, start_after is not
                continue
            if len(items) == page_size:
                more = True
                break
            items.append(
                ObjectInfo(
                    blob.name[len(self.prefix) :],
                    str(blob.generation),
                    int(blob.size or 0),
                    blob.updated,
                    dict(blob.metadata or {}),
                )
            )
        return page_of(items, more)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()

    def _full(self, name: str) -> str:
        return self.prefix + check_name(name)


def default_client() -> Any:
    """A storage client: the emulator when STORAGE_EMULATOR_HOST is set, else ADC."""
    import google.cloud.storage as gcs  # the module path: mypy misreads the namespace package
    from google.auth.exceptions import DefaultCredentialsError

    project = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCLOUD_PROJECT")
    emulator = os.environ.get(EMULATOR_ENV)
    if emulator:
        from google.auth.credentials import AnonymousCredentials

        endpoint = emulator if "://" in emulator else f"http://{emulator}"
        return gcs.Client(
            project=project or "opsplane-local",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": endpoint},
        )
    try:
        return gcs.Client(project=project) if project else gcs.Client()
    except DefaultCredentialsError as exc:
        raise StoreMisconfigured(
            "no Google credentials for the gs:// store: set GOOGLE_APPLICATION_CREDENTIALS "
            f"to a service account key, run on Google Cloud, or set {EMULATOR_ENV} "
            f"for an emulator ({first_line(exc)})"
        ) from exc
    except OSError as exc:  # the project could not be determined
        raise StoreMisconfigured(f"cannot build a GCS client: {first_line(exc)}") from exc


def _retry_policies(deadline: float) -> tuple[Any, Any]:
    """Google's DEFAULT_RETRY, and its conditional variant for writes, with our deadline."""
    from google.cloud.storage.retry import (
        DEFAULT_RETRY,
        ConditionalRetryPolicy,
        is_generation_specified,
    )

    always = DEFAULT_RETRY.with_timeout(deadline)
    conditional = ConditionalRetryPolicy(always, is_generation_specified, ["query_params"])
    return always, conditional


def _as_generation(name: str, generation: str | None) -> int | None:
    if generation is None:
        return None
    try:
        return int(generation)
    except ValueError:
        # No GCS object can be at a generation that is not a number.
        raise PreconditionFailed(f"{name} is not at generation {generation}") from None


@contextlib.contextmanager
def _translated(
    name: str, *, missing_bucket: bool = False, not_found_is_precondition: bool = False
) -> Iterator[None]:
    """The one place SDK errors become store errors."""
    from google.api_core import exceptions
    from google.auth import exceptions as auth_exceptions
    from requests import exceptions as requests_exceptions

    try:
        yield
    except StoreError:
        raise
    except exceptions.NotFound as exc:
        if missing_bucket:
            raise StoreMisconfigured(f"GCS bucket for {name} does not exist") from exc
        if not_found_is_precondition:
            raise PreconditionFailed(f"{name} does not exist at the expected generation") from exc
        raise ObjectNotFound(name) from exc
    except exceptions.PreconditionFailed as exc:
        raise PreconditionFailed(f"{name}: generation precondition failed") from exc
    except (exceptions.Unauthorized, exceptions.Forbidden) as exc:
        raise StoreMisconfigured(
            f"GCS refused access to {name}: check the credentials and bucket IAM "
            f"({first_line(exc)})"
        ) from exc
    except (auth_exceptions.DefaultCredentialsError, auth_exceptions.RefreshError) as exc:
        raise StoreMisconfigured(
            f"Google credentials unusable for {name}: {first_line(exc)}"
        ) from exc
    except (
        exceptions.TooManyRequests,
        exceptions.ServerError,
        exceptions.RetryError,
        auth_exceptions.TransportError,
        requests_exceptions.ConnectionError,
        requests_exceptions.Timeout,
        ConnectionError,
        TimeoutError,
    ) as exc:
        raise StoreUnavailable(f"GCS unavailable for {name}: {first_line(exc)}") from exc
    except exceptions.GoogleAPICallError as exc:
        raise StoreError(f"GCS rejected the request for {name}: {first_line(exc)}") from exc
