"""open_store: a clear StoreMisconfigured for every way a store URL can be wrong."""

from __future__ import annotations

import pytest

from shared.storage import StoreMisconfigured, open_store
from tests.servers import (
    RunningServer,
    free_port,
    s3_env,
    unique_name,
)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ftp://host/path", id="ftp"),
        pytest.param("redis://localhost", id="redis"),
        pytest.param("/var/lib/opsplane", id="no-scheme"),
    ],
)
def test_unknown_scheme_names_the_known_ones(url: str) -> None:
    """An unknown scheme is refused with the list of schemes that exist."""
    with pytest.raises(StoreMisconfigured, match=r"unknown store scheme.*gs://.*s3://"):
        open_store(url)


@pytest.mark.parametrize(
    "url",
    [pytest.param("gs://", id="gs"), pytest.param("s3:///prefix", id="s3")],
)
def test_a_url_without_bucket_is_misconfigured(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """gs:// and s3:// URLs must name a bucket."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreMisconfigured, match="needs a bucket"):
        open_store(url)


@pytest.mark.integration
def test_gcs_missing_bucket_is_misconfigured(
    fake_gcs: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A gs:// bucket that does not exist fails at open, naming the bucket."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs.url)
    bucket = unique_name("absent")
    with pytest.raises(StoreMisconfigured, match=f"bucket {bucket} does not exist"):
        open_store(f"gs://{bucket}/prefix")


@pytest.mark.integration
def test_s3_missing_bucket_is_misconfigured(
    moto_s3: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An s3:// bucket that does not exist fails at open, naming the bucket."""
    for key, value in s3_env(moto_s3.url).items():
        monkeypatch.setenv(key, value)
    bucket = unique_name("absent")
    with pytest.raises(StoreMisconfigured, match=f"bucket {bucket} does not exist"):
        open_store(f"s3://{bucket}")


@pytest.mark.timeout(30)
def test_gcs_without_credentials_is_misconfigured(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """No emulator and a credentials file that is not there: a clear error, no hang."""
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    with pytest.raises(StoreMisconfigured, match=r"no Google credentials.*GOOGLE_APPLICATION"):
        open_store("gs://some-bucket/prefix")


@pytest.mark.timeout(30)
def test_s3_without_credentials_is_misconfigured(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No AWS keys, profile files or instance metadata: a clear error, no network wait."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("OPSPLANE_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreMisconfigured, match="no AWS credentials"):
        open_store("s3://some-bucket")
