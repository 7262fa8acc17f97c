"""What the image would run, without Docker: the runtime install and the exact CMD.

The Dockerfile's build stage installs the package (no dev extra) from a
context that .dockerignore limits; the runtime stage runs its CMD from a
directory holding functions/. This test does the same into a throwaway
virtualenv (uv, from the package registry) and starts the CMD as written, so
a runtime import of a dev-only package, a file missing from the context, or
a CMD that ignores FUNCTION_TARGET / PORT / SIGTERM fails here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.infra.terraform import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UV = ROOT / ".venv" / "bin" / "uv"
DEV_ONLY = ("pytest", "ruff", "mypy", "moto", "hypothesis", "hcl2", "numpy", "bandit")


def _context_files() -> list[str]:
    """The paths .dockerignore lets into the build context."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line[1:].rstrip("/") for line in lines if line.startswith("!")]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A virtualenv with the package installed as the build stage does, and the app dir."""
    if not UV.exists():
        pytest.skip("uv is not installed in .venv (make venv)")
    root = tmp_path_factory.mktemp("image")
    context = root / "context"
    context.mkdir()
    for name in _context_files():
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / name)
    venv = root / "venv"
    subprocess.run([str(UV), "venv", "--quiet", "--python", "python3", str(venv)], check=True)
    install = subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if install.returncode != 0:
        pytest.fail(f"the runtime install failed:\n{install.stderr[-3000:]}")
    app = root / "app"
    app.mkdir()
    shutil.copytree(
        ROOT / "functions", app / "functions", ignore=shutil.ignore_patterns("__pycache__")
    )
    return {"venv": venv, "app": app}


def _cmd() -> list[str]:
    line = next(
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")
    )
    command: list[str] = json.loads(line[len("CMD ") :])
    return command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(image: dict[str, Path], **extra: str) -> dict[str, str]:
    return {
        "PATH": f"{image['venv'] / 'bin'}:/usr/bin:/bin",
        "HOME": str(image["app"]),
        "OPSPLANE_STORE": "memory://image-test",
        **extra,
    }


def test_no_dev_dependency_is_installed(image: dict[str, Path]) -> None:
    """The runtime install brings none of the dev extra's tools."""
    probe = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    result = subprocess.run(
        [str(image["venv"] / "bin" / "python"), "-c", probe, *DEV_ONLY],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_every_target_loads_with_runtime_dependencies_only(image: dict[str, Path]) -> None:
    """functions/main.py and every target it exports import without dev packages."""
    probe = (
        "import sys; sys.path.insert(0, '.'); import functions.main as m; "
        "missing = [t for t in m.TARGETS if not callable(getattr(m, t, None))]; "
        "print(sorted(m.TARGETS), missing)"
    )
    result = subprocess.run(
        [str(image["venv"] / "bin" / "python"), "-c", probe],
        cwd=image["app"],
        env=_env(image),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("[]"), result.stdout


@pytest.mark.parametrize(
    ("target", "path", "expected"),
    [
        pytest.param("health", "/health/test", 200, id="health"),
        # Whatever runs answers without a token (401, 404), it is runs' own JSON answer.
        pytest.param("runs", "/runs/does-not-exist", None, id="runs"),
    ],
)
def test_cmd_serves_the_target_on_port_and_stops_on_sigterm(
    image: dict[str, Path], tmp_path: Path, target: str, path: str, expected: int | None
) -> None:
    """The Dockerfile's CMD, run as written, serves FUNCTION_TARGET on PORT; SIGTERM stops it."""
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            _cmd(),
            cwd=image["app"],
            env=_env(image, FUNCTION_TARGET=target, PORT=str(port)),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so cleanup reaches any child
        )
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                time.sleep(0.2)
        assert response is not None, f"the CMD never served:\n{log.read_text()}"
        if expected is None:
            assert response.status_code < 500, response.text
            assert "error" in response.json()
        else:
            assert response.status_code == expected, response.text
        assert "x-request-id" in response.headers
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        # exec: the server itself got SIGTERM, so nothing is left listening.
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
