"""The contract suite's ``store`` fixture: one fresh, empty store per test and backend.

Emulators start once per session (per xdist worker); each test gets its own
prefix in a session bucket, so tests never see each other's objects, and the
gcs and s3 stores are opened through ``open_store`` exactly as production does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from shared.storage import ObjectStore, open_store
from tests.servers import (
    RunningServer,
    gcs_client,
    s3_client,
    s3_env,
    unique_name,
)

BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("file", id="file"),
    pytest.param("gcs", id="gcs", marks=pytest.mark.integration),
    pytest.param("s3", id="s3", marks=pytest.mark.integration),
]


@pytest.fixture(scope="session")
def gcs_bucket(fake_gcs: RunningServer) -> str:
    """A bucket on the session's fake-gcs-server."""
    name = unique_name("contract")
    gcs_client(fake_gcs.url).create_bucket(name)
    return name


@pytest.fixture(scope="session")
def s3_bucket(moto_s3: RunningServer) -> str:
    """A bucket on the session's moto server."""
    name = unique_name("contract")
    s3_client(moto_s3.url).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=BACKENDS)
def store(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> Iterator[ObjectStore]:
    """An empty store of the parametrized backend."""
    backend = request.param
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    if backend == "memory":
        url = f"memory://contract-{prefix}"
    elif backend == "file":
        url = f"file://{tmp_path / 'store'}"
    elif backend == "gcs":
        server = request.getfixturevalue("fake_gcs")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
        url = f"gs://{request.getfixturevalue('gcs_bucket')}/{prefix}"
    else:
        server = request.getfixturevalue("moto_s3")
        for key, value in s3_env(server.url).items():
            monkeypatch.setenv(key, value)
        url = f"s3://{request.getfixturevalue('s3_bucket')}/{prefix}"
    opened = open_store(url)
    yield opened
    opened.close()
