"""cloudbuild.yaml, `make deploy|plan` and infra/deploy.sh agree and fail clearly."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.terraform import ROOT

DEPLOY_SH = ROOT / "infra" / "deploy.sh"


@pytest.fixture(scope="module")
def cloudbuild() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    return data


def _step(cloudbuild: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(step for step in cloudbuild["steps"] if step["id"] == step_id)


def test_steps_run_in_order(cloudbuild: dict[str, Any]) -> None:
    """Test, then build, then push, then deploy."""
    assert [step["id"] for step in cloudbuild["steps"]] == ["test", "build", "push", "deploy"]


def test_test_step_runs_the_project_test_command(cloudbuild: dict[str, Any]) -> None:
    """The build runs `make test` (and lint) before any image exists."""
    command = " ".join(_step(cloudbuild, "test")["args"])
    assert "make" in command
    assert "test" in command.split()


def test_build_and_push_use_one_image(cloudbuild: dict[str, Any]) -> None:
    """The image that is built is the one pushed and the one deployed."""
    assert "${_IMAGE}" in _step(cloudbuild, "build")["args"]
    assert _step(cloudbuild, "push")["args"] == ["push", "${_IMAGE}"]
    assert "IMAGE=${_IMAGE}" in _step(cloudbuild, "deploy")["env"]


def test_deploy_step_uses_the_same_script_as_make(cloudbuild: dict[str, Any]) -> None:
    """Cloud Build and `make deploy` both apply through infra/deploy.sh."""
    script = _step(cloudbuild, "deploy")["args"][-1]
    assert "infra/deploy.sh apply" in script
    makefile = (ROOT / "Makefile").read_text()
    assert "infra/deploy.sh apply" in makefile
    assert "gcloud builds submit" in makefile
    assert "_DEPLOY=false" in makefile, "make deploy applies Terraform itself, not twice"


def test_terraform_image_matches_the_pinned_cli(cloudbuild: dict[str, Any]) -> None:
    """The Terraform image Cloud Build uses satisfies infra/versions.tf's required_version."""
    image = _step(cloudbuild, "deploy")["name"]
    version = image.rsplit(":", 1)[1]
    major, minor = (int(part) for part in version.split(".")[:2])
    assert (major, minor) >= (1, 6)
    assert major < 2


def test_state_bucket_defaults_agree(cloudbuild: dict[str, Any]) -> None:
    """Cloud Build and infra/deploy.sh name the same Terraform state bucket."""
    assert cloudbuild["substitutions"]["_TF_STATE_BUCKET"] == "${PROJECT_ID}-opsplane-tfstate"
    assert "STATE_BUCKET=${TF_STATE_BUCKET:-$PROJECT-$NAME-tfstate}" in DEPLOY_SH.read_text()
    assert "NAME=${NAME:-opsplane}" in DEPLOY_SH.read_text()


def _tool_dir(tmp_path: Path, tools: list[str]) -> str:
    """A PATH with only the named tools (the script also needs dirname)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ["dirname", *tools]:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(DEPLOY_SH), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_missing_project_is_a_clear_error() -> None:
    """Without PROJECT the script stops at once with exit 1 and says how to call it."""
    env = {key: value for key, value in os.environ.items() if key != "PROJECT"}
    result = _run(["check"], env)
    assert result.returncode == 1
    assert "PROJECT is not set" in result.stderr
    assert "make deploy PROJECT=" in result.stderr


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        pytest.param([], "terraform", id="no-terraform"),
        pytest.param(["terraform"], "gcloud", id="no-gcloud"),
    ],
)
def test_missing_tool_is_a_clear_error(tmp_path: Path, present: list[str], missing: str) -> None:
    """A missing gcloud or terraform: exit 1 naming the tool and where to get it."""
    if any(shutil.which(tool) is None for tool in present):
        pytest.skip(f"{present} not installed here")
    env = {"PATH": _tool_dir(tmp_path, present), "PROJECT": "p", "NEED": "terraform gcloud"}
    result = _run(["check"], env)
    assert result.returncode == 1
    assert f"{missing} is not installed" in result.stderr
    assert "install" in result.stderr


def test_apply_without_image_is_refused(tmp_path: Path) -> None:
    """apply never runs Terraform without the image Cloud Build pushed."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform not installed here")
    env = {"PATH": _tool_dir(tmp_path, ["terraform"]), "PROJECT": "p"}
    result = _run(["apply"], env)
    assert result.returncode == 1
    assert "IMAGE is not set" in result.stderr


def test_make_plan_without_project_fails_with_the_message() -> None:
    """`make plan` with no PROJECT fails before touching anything, with the script's message."""
    if shutil.which("make") is None:
        pytest.skip("make not installed here")
    outer_make = {"PROJECT", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    env = {key: value for key, value in os.environ.items() if key not in outer_make}
    result = subprocess.run(
        ["make", "--no-print-directory", "plan"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "PROJECT is not set" in result.stderr
