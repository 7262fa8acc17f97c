"""The s3:// backend beyond the contract: prefix mapping, lazy metadata, error translation."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from shared.storage import (
    ObjectNotFound,
    PreconditionFailed,
    StoreError,
    StoreMisconfigured,
    StoreUnavailable,
    open_store,
)
from shared.storage.s3 import S3Store
from tests.servers import (
    MOTO_CREDENTIALS,
    CannedResponse,
    RunningServer,
    canned_http_server,
    free_port,
    s3_client,
    s3_env,
    unique_name,
)


def _client(url: str) -> object:
    """A client that does not retry, so error tests see the first answer."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        **MOTO_CREDENTIALS,
    )


@pytest.fixture
def bucket(moto_s3: RunningServer) -> str:
    name = unique_name("s3unit")
    s3_client(moto_s3.url).create_bucket(Bucket=name)
    return name


@pytest.mark.integration
def test_the_url_prefix_is_prepended_and_stripped(
    moto_s3: RunningServer,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """s3://bucket/pre stores "x/y" as "pre/x/y" and lists it back as "x/y"."""
    for key, value in s3_env(moto_s3.url).items():
        monkeypatch.setenv(key, value)
    store = open_store(f"s3://{bucket}/pre/")
    store.put("x/y", b"data")
    raw = s3_client(moto_s3.url)
    raw.put_object(Bucket=bucket, Key="outside", Body=b"not ours")
    keys = [item["Key"] for item in raw.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["outside", "pre/x/y"]
    assert [info.name for info in store.list()] == ["x/y"]


@pytest.mark.integration
def test_listed_metadata_is_fetched_on_first_use(
    moto_s3: RunningServer,
    bucket: str,
) -> None:
    """A listing item's metadata is the object's; an object deleted since reads as empty."""
    store = S3Store(bucket, client=_client(moto_s3.url))
    store.put("kept", b"1", metadata={"team": "sre"})
    store.put("gone", b"2", metadata={"team": "ops"})
    gone, kept = store.list()
    store.delete("gone")
    assert dict(kept.metadata) == {"team": "sre"}
    assert dict(gone.metadata) == {}


@pytest.mark.integration
def test_generation_is_the_etag(moto_s3: RunningServer, bucket: str) -> None:
    """The generation a put returns is the ETag a raw read reports."""
    store = S3Store(bucket, client=_client(moto_s3.url))
    generation = store.put("k", b"x")
    assert s3_client(moto_s3.url).head_object(Bucket=bucket, Key="k")["ETag"] == generation


def test_an_unreachable_endpoint_is_unavailable() -> None:
    """Connection refused is StoreUnavailable."""
    store = S3Store("bucket", client=_client(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.get("k")


def _s3_error(code: str) -> bytes:
    return (
        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
        f"<Message>canned {code}</Message></Error>"
    ).encode()


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        pytest.param(404, "NoSuchKey", ObjectNotFound, id="404-NoSuchKey"),
        pytest.param(404, "NoSuchBucket", StoreMisconfigured, id="404-NoSuchBucket"),
        pytest.param(412, "PreconditionFailed", PreconditionFailed, id="412-PreconditionFailed"),
        pytest.param(409, "ConditionalRequestConflict", PreconditionFailed, id="409-conflict"),
        pytest.param(503, "SlowDown", StoreUnavailable, id="503-SlowDown"),
        pytest.param(500, "InternalError", StoreUnavailable, id="500-InternalError"),
        pytest.param(403, "AccessDenied", StoreMisconfigured, id="403-AccessDenied"),
        pytest.param(403, "InvalidAccessKeyId", StoreMisconfigured, id="403-bad-key"),
        pytest.param(400, "InvalidArgument", StoreError, id="400-other"),
    ],
)
def test_s3_errors_become_store_errors(status: int, code: str, expected: type[StoreError]) -> None:
    """Each S3 error code maps to one store error; the original stays as the cause."""
    body = _s3_error(code)
    with canned_http_server(CannedResponse(status, body, "application/xml")) as server:
        store = S3Store("bucket", client=_client(server.url))
        with pytest.raises(expected) as caught:
            store.put("k", b"x", if_absent=True)
    assert caught.value.__cause__ is not None
