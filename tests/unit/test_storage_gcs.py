"""The gs:// backend beyond the contract: prefix mapping and error translation."""

from __future__ import annotations

import json

import pytest

from shared.storage import (
    ObjectNotFound,
    PreconditionFailed,
    StoreError,
    StoreMisconfigured,
    StoreUnavailable,
    open_store,
)
from shared.storage.gcs import GCSStore
from tests.servers import (
    CannedResponse,
    RunningServer,
    canned_http_server,
    free_port,
    gcs_client,
    unique_name,
)


@pytest.mark.integration
def test_the_url_prefix_is_prepended_and_stripped(
    fake_gcs: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """gs://bucket/pre stores "x/y" as "pre/x/y" and lists it back as "x/y"."""
    client = gcs_client(fake_gcs.url)
    bucket = unique_name("prefix")
    client.create_bucket(bucket)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs.url)
    store = open_store(f"gs://{bucket}/pre/fix/")
    store.put("x/y", b"data", metadata={"a": "b"})
    client.bucket(bucket).blob("outside").upload_from_string(b"not ours")
    assert [blob.name for blob in client.list_blobs(bucket)] == ["outside", "pre/fix/x/y"]
    assert [info.name for info in store.list()] == ["x/y"]
    assert client.bucket(bucket).get_blob("pre/fix/x/y").metadata == {"a": "b"}


@pytest.mark.integration
def test_a_generation_that_is_not_a_number_fails_the_precondition(
    fake_gcs: RunningServer,
) -> None:
    """A foreign generation string cannot match any GCS object."""
    client = gcs_client(fake_gcs.url)
    bucket = unique_name("gen")
    client.create_bucket(bucket)
    store = GCSStore(bucket, client=client)
    store.put("k", b"1")
    with pytest.raises(PreconditionFailed):
        store.put("k", b"2", if_generation="etag-like")
    assert store.get("k").data == b"1"


def test_an_unreachable_endpoint_is_unavailable() -> None:
    """Connection refused, after the short retry deadline, is StoreUnavailable."""
    client = gcs_client(f"http://127.0.0.1:{free_port()}")
    store = GCSStore("bucket", client=client, retry_deadline=0.5)
    with pytest.raises(StoreUnavailable, match="GCS unavailable"):
        store.get("k")


def _gcs_error(status: int) -> bytes:
    return json.dumps({"error": {"code": status, "message": f"canned {status}"}}).encode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(404, ObjectNotFound, id="404-not-found"),
        pytest.param(412, PreconditionFailed, id="412-precondition"),
        pytest.param(429, StoreUnavailable, id="429-throttled"),
        pytest.param(503, StoreUnavailable, id="503-unavailable"),
        pytest.param(500, StoreUnavailable, id="500-server-error"),
        pytest.param(403, StoreMisconfigured, id="403-forbidden"),
        pytest.param(401, StoreMisconfigured, id="401-unauthorized"),
        pytest.param(400, StoreError, id="400-other"),
    ],
)
def test_http_errors_become_store_errors(status: int, expected: type[StoreError]) -> None:
    """Each GCS status maps to one store error; the original stays as the cause."""
    with canned_http_server(CannedResponse(status, _gcs_error(status))) as server:
        store = GCSStore("bucket", client=gcs_client(server.url), retry_deadline=0.3)
        with pytest.raises(expected) as caught:
            store.delete("k")
    assert caught.value.__cause__ is not None


def test_a_missing_bucket_on_write_is_misconfigured() -> None:
    """404 on a listing means the bucket itself is missing, not an object."""
    with canned_http_server(CannedResponse(404, _gcs_error(404))) as server:
        store = GCSStore("bucket", client=gcs_client(server.url))
        with pytest.raises(StoreMisconfigured, match="does not exist"):
            store.verify()


@pytest.mark.parametrize(
    ("preconditions", "retried"),
    [
        pytest.param({}, False, id="unconditional-put-not-retried"),
        pytest.param({"if_absent": True}, True, id="create-only-put-retried"),
        pytest.param({"if_generation": "7"}, True, id="compare-and-swap-put-retried"),
    ],
)
def test_only_conditional_puts_are_retried(preconditions: dict[str, object], retried: bool) -> None:
    """A 503 on an unconditional put is not retried (it could clobber a newer write)."""
    with canned_http_server(CannedResponse(503, _gcs_error(503))) as server:
        store = GCSStore("bucket", client=gcs_client(server.url), retry_deadline=1.5)
        with pytest.raises(StoreUnavailable):
            store.put("k", b"x", **preconditions)  # type: ignore[arg-type]
    # Count uploads only: the client also reads bucket metadata in the background.
    uploads = [line for line in server.requests if line.startswith("POST /upload/")]
    assert (len(uploads) > 1) is retried, server.requests
