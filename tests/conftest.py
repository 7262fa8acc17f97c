"""Test-wide fixtures: every test starts from a clean environment and caches."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from shared import runtime
from tests.servers import fake_gcs, moto_s3  # noqa: F401 - session fixtures, one per worker

_OPSPLANE_PREFIXES = ("OPSPLANE_", "WORKER_", "TASKS_", "GITHUB_", "STORAGE_EMULATOR_HOST")


@pytest.fixture(autouse=True)
def isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No test sees the developer's configuration, and each gets its own memory store."""
    import os

    for key in list(os.environ):
        if key.startswith(_OPSPLANE_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.setenv("OPSPLANE_STORE", f"memory://test-{uuid.uuid4().hex}")
    runtime.reset()
    yield
    runtime.reset()
