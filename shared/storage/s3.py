"""Amazon S3 (and S3-compatible stores) behind the object store port.

``s3://bucket/prefix``: names are stored as ``prefix/name``. The generation is
the object's ETag, so preconditions map onto S3's conditional writes:
create-only is ``IfNoneMatch="*"``, compare-and-swap is ``IfMatch=<etag>``, and a
conditional delete is ``DeleteObject`` with ``IfMatch``. An ETag is a digest
of the content: writing the very same bytes again keeps the generation, which
is harmless for compare-and-swap (the state it guards is unchanged).

S3 answers a delete of a missing key with success, while the port promises
ObjectNotFound; so a delete first reads the ETag (HEAD) and then deletes with
``IfMatch`` on it, retrying if the object changed in between.

Listings cost one request per page; custom metadata is not part of an S3
listing, so each item's ``metadata`` is fetched (one HEAD) the first time it is
read, and is empty if the object is gone by then.

botocore retries throttling, 5xx and connection errors on every call (standard
mode). Unlike GCS, S3 treats a plain PUT as idempotent: a replay writes the same
bytes to the same key.

Endpoint: ``OPSPLANE_S3_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL``); region:
``AWS_REGION`` / ``AWS_DEFAULT_REGION``. boto3 is imported lazily.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
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

ENDPOINT_ENV = ("OPSPLANE_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
REGION_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION")
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
_DELETE_ATTEMPTS = 5

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_PRECONDITION = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_MISCONFIGURED = {
    "NoSuchBucket",
    "AccessDenied",
    "403",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidBucketName",
    "AuthorizationHeaderMalformed",
    "PermanentRedirect",
    "301",
}
_UNAVAILABLE = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "503",
    "500",
}


class S3Store(ObjectStore):
    """A bucket (and optional prefix) of S3 or an S3-compatible store."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None) -> None:
        if not bucket:
            raise StoreMisconfigured("an s3:// store needs a bucket: s3://<bucket>/<prefix>")
        self.bucket = bucket
        self.prefix = bucket_prefix(prefix)
        self.url = f"s3://{bucket}/{self.prefix}"
        self._client = client if client is not None else default_client()

    @classmethod
    def from_url(cls, url: str, *, client: Any = None, verify: bool = True) -> S3Store:
        """Open ``s3://bucket/prefix``; with ``verify`` a missing bucket fails here."""
        parts = urlsplit(url)
        store = cls(parts.netloc, parts.path, client=client)
        if verify:
            store.verify()
        return store

    def verify(self) -> None:
        """One cheap listing: raises StoreMisconfigured for a missing bucket or bad keys."""
        with _translated(f"bucket {self.bucket}", missing_is_bucket=True):
            self._client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)

    # -- the port ----------------------------------------------------------

    def get(self, name: str) -> StoredObject:
        with _translated(name):
            response = self._client.get_object(Bucket=self.bucket, Key=self._full(name))
            data = response["Body"].read()
        return StoredObject(
            name,
            data,
            response["ETag"],
            response["LastModified"],
            dict(response.get("Metadata") or {}),
        )

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
        arguments: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self._full(name),
            "Body": bytes(data),
            "ContentType": content_type,
            "Metadata": dict(metadata or {}),
        }
        if if_absent:
            arguments["IfNoneMatch"] = "*"
        if if_generation is not None:
            arguments["IfMatch"] = if_generation
        # With IfMatch, a missing key is a failed precondition, not a missing object.
        with _translated(name, not_found_is_precondition=if_generation is not None):
            response = self._client.put_object(**arguments)
        return str(response["ETag"])

    def delete(self, name: str, *, if_generation: str | None = None) -> None:
        key = self._full(name)
        for _ in range(_DELETE_ATTEMPTS):
            with _translated(name):
                etag = self._client.head_object(Bucket=self.bucket, Key=key)["ETag"]
            if if_generation is not None and _strip(etag) != _strip(if_generation):
                raise PreconditionFailed(f"{name} is not at generation {if_generation}")
            try:
                with _translated(name):
                    self._client.delete_object(Bucket=self.bucket, Key=key, IfMatch=etag)
                return
            except PreconditionFailed:
                if if_generation is not None:
                    raise
                # Rewritten between HEAD and DELETE; an unconditional delete tries again.
        raise StoreUnavailable(f"{name} kept changing while being deleted")

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
        arguments: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": self.prefix + prefix,
            "MaxKeys": min(page_size, 1000),
        }
        if after:
            arguments["StartAfter"] = self.prefix + after
        with _translated(prefix or "listing", missing_is_bucket=True):
            response = self._client.list_objects_v2(**arguments)
        items = [
            ObjectInfo(
                entry["Key"][len(self.prefix) :],
                entry["ETag"],
                int(entry["Size"]),
                entry["LastModified"],
                _LazyMetadata(self._client, self.bucket, entry["Key"]),
            )
            for entry in response.get("Contents", [])
        ]
        more = bool(response.get("IsTruncated")) and bool(items)
        return page_of(items, more)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()

    def _full(self, name: str) -> str:
        return self.prefix + check_name(name)


class _LazyMetadata(Mapping[str, str]):
    """An object's custom metadata, fetched with one HEAD on first use."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._lock = threading.Lock()
        self._loaded: dict[str, str] | None = None

    def _data(self) -> dict[str, str]:
        with self._lock:
            if self._loaded is None:
                try:
                    with _translated(self._key):
                        head = self._client.head_object(Bucket=self._bucket, Key=self._key)
                    self._loaded = dict(head.get("Metadata") or {})
                except ObjectNotFound:
                    self._loaded = {}
            return self._loaded

    def __getitem__(self, key: str) -> str:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        shown = repr(self._loaded) if self._loaded is not None else "<not fetched>"
        return f"S3Metadata({shown})"


def default_client() -> Any:
    """A boto3 S3 client from the environment (endpoint, region, credentials chain)."""
    import boto3
    import botocore.session
    from botocore.config import Config

    endpoint = next((os.environ[k] for k in ENDPOINT_ENV if os.environ.get(k)), None)
    region = next((os.environ[k] for k in REGION_ENV if os.environ.get(k)), None)
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "max_attempts": 5},
    )
    # A session of its own: boto3's module-level default session caches the
    # credentials it resolved first, and would ignore a changed environment.
    # Sessions share one data loader, so the S3 API model is parsed only once.
    botocore_session = botocore.session.Session()
    botocore_session.register_component("data_loader", _shared_data_loader())
    session = boto3.session.Session(botocore_session=botocore_session)
    return session.client("s3", endpoint_url=endpoint, region_name=region, config=config)


@functools.cache
def _shared_data_loader() -> Any:
    import botocore.session

    return botocore.session.get_session().get_component("data_loader")


def _strip(etag: str) -> str:
    return etag.strip('"')


@contextlib.contextmanager
def _translated(
    name: str, *, missing_is_bucket: bool = False, not_found_is_precondition: bool = False
) -> Iterator[None]:
    """The one place botocore errors become store errors."""
    from botocore import exceptions

    try:
        yield
    except StoreError:
        raise
    except exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        message = error.get("Message") or code
        if code == "NoSuchBucket" or (missing_is_bucket and code in _NOT_FOUND):
            raise StoreMisconfigured(f"S3 bucket for {name} does not exist ({message})") from exc
        if code in _NOT_FOUND:
            if not_found_is_precondition:
                raise PreconditionFailed(f"{name} does not exist at that generation") from exc
            raise ObjectNotFound(name) from exc
        if code in _PRECONDITION or status in (409, 412):
            raise PreconditionFailed(f"{name}: precondition failed ({message})") from exc
        if code in _MISCONFIGURED or status in (301, 403):
            raise StoreMisconfigured(f"S3 refused access to {name}: {message}") from exc
        if code in _UNAVAILABLE or status == 429 or status >= 500:
            raise StoreUnavailable(f"S3 unavailable for {name}: {message}") from exc
        raise StoreError(f"S3 rejected the request for {name}: {code} {message}") from exc
    except (exceptions.NoCredentialsError, exceptions.PartialCredentialsError) as exc:
        raise StoreMisconfigured(
            f"no AWS credentials for the s3:// store ({first_line(exc)}): set "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance role"
        ) from exc
    except (exceptions.NoRegionError, exceptions.InvalidEndpointConfigurationError) as exc:
        raise StoreMisconfigured(f"S3 client misconfigured: {first_line(exc)}") from exc
    except (
        exceptions.EndpointConnectionError,
        exceptions.ConnectionClosedError,
        exceptions.ConnectTimeoutError,
        exceptions.ReadTimeoutError,
        exceptions.HTTPClientError,
    ) as exc:
        raise StoreUnavailable(f"S3 unreachable for {name}: {first_line(exc)}") from exc
