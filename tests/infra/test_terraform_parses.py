"""Every Terraform file parses, and the pieces every deployment needs are declared."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra import terraform as tf


@pytest.mark.parametrize("path", tf.tf_files(), ids=lambda path: path.name)
def test_file_parses(path: Path) -> None:
    """python-hcl2 parses the file into at least one top-level block."""
    assert tf.load_tf(path), f"{path.name} is empty"


def test_infra_has_terraform_files() -> None:
    """The directory is not accidentally empty (parametrised tests would pass vacuously)."""
    assert len(tf.tf_files()) >= 5


def test_provider_and_terraform_versions_are_pinned() -> None:
    """The google provider is pinned to one version and Terraform to a bounded range."""
    data = tf.load_tf(tf.INFRA / "versions.tf")
    block = tf.first_block(data["terraform"])
    assert "<" in block["required_version"]
    providers = tf.first_block(block["required_providers"])
    for name, spec in providers.items():
        assert spec["version"][0].isdigit(), f"{name} is not pinned to an exact version"


@pytest.mark.parametrize(
    ("rtype", "name"),
    [
        pytest.param("google_storage_bucket", "state", id="bucket"),
        pytest.param("google_cloud_run_v2_service", "this", id="services"),
        pytest.param("google_cloud_tasks_queue", "tasks", id="queue"),
        pytest.param("google_cloud_scheduler_job", "this", id="scheduler"),
        pytest.param("google_artifact_registry_repository", "images", id="registry"),
        pytest.param("google_secret_manager_secret", "this", id="secrets"),
        pytest.param("google_service_account", "service", id="service-accounts"),
    ],
)
def test_resource_is_declared(rtype: str, name: str) -> None:
    """The deployment declares each resource the product depends on."""
    assert tf.resource(rtype, name)


def test_outputs_include_service_urls() -> None:
    """`terraform output -json service_urls` feeds `opsplane verify-deployment`."""
    assert "service_urls" in tf.config()["output"]


def test_example_tfvars_only_sets_declared_variables() -> None:
    """terraform.tfvars.example names real variables (a typo would fail `terraform plan`)."""
    example = tf.load_tf(tf.INFRA / "terraform.tfvars.example")
    unknown = sorted(set(example) - set(tf.config()["variable"]))
    assert not unknown, unknown
    assert "project_id" in example


def _all_expressions() -> str:
    """Every .tf file as text, comments stripped (what `terraform validate` would resolve)."""
    lines = []
    for path in tf.tf_files():
        for line in path.read_text().splitlines():
            code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
            lines.append(code)
    return "\n".join(lines)


def test_every_reference_resolves() -> None:
    """var.X, local.X, data.T.N and resource T.N references all name something declared."""
    text = _all_expressions()
    config = tf.config()
    variables = set(re.findall(r"\bvar\.([a-z0-9_]+)", text))
    assert not variables - set(config["variable"]), variables - set(config["variable"])
    locals_used = set(re.findall(r"\blocal\.([a-z0-9_]+)", text))
    assert not locals_used - set(config["locals"]), locals_used - set(config["locals"])
    declared_data = {
        (rtype, name)
        for path in tf.tf_files()
        for block in tf.load_tf(path).get("data", [])
        for rtype, by_name in block.items()
        for name in by_name
    }
    for rtype, name in re.findall(r"\bdata\.([a-z0-9_]+)\.([a-z0-9_]+)", text):
        assert (rtype, name) in declared_data, f"data.{rtype}.{name}"
    resources = config["resource"]
    for rtype, name in re.findall(r"(?<![.\w])((?:google|random)_[a-z0-9_]+)\.([a-z0-9_]+)", text):
        assert name in resources.get(rtype, {}), f"{rtype}.{name} is not declared"


def test_every_variable_is_used_and_documented() -> None:
    """No dead variables; each one says what it is and has a type."""
    text = _all_expressions()
    for name, spec in tf.config()["variable"].items():
        assert re.search(rf"\bvar\.{name}\b", text), f"variable {name} is never used"
        assert spec.get("description"), name
        assert spec.get("type"), name
