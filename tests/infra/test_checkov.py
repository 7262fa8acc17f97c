"""checkov over infra/ and the Dockerfile: no failed check, every skip explained inline.

checkov lives in its own virtualenv (`make checkov`, a prerequisite of
`make test`) because its dependency tree conflicts with ours.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tests.infra.terraform import ROOT, tf_files

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

pytestmark = pytest.mark.skipif(
    not CHECKOV.exists(), reason="checkov is not installed: run `make checkov` (make test does)"
)


@pytest.fixture(scope="module")
def reports() -> list[dict[str, Any]]:
    """One checkov run over every .tf file and the Dockerfile, parsed from JSON."""
    files = [*tf_files(), ROOT / "Dockerfile"]
    command = [str(CHECKOV), "--framework", "terraform", "dockerfile"]
    for path in files:
        command += ["--file", str(path.relative_to(ROOT))]
    command += ["--skip-download", "--compact", "--output", "json"]
    # No network: no guideline download, no platform mapping, no version check.
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode in {0, 1}, result.stderr[-2000:]
    data = json.loads(result.stdout)
    return data if isinstance(data, list) else [data]


def test_both_frameworks_were_scanned(reports: list[dict[str, Any]]) -> None:
    """checkov read the Terraform and the Dockerfile without parsing errors."""
    kinds = {report["check_type"] for report in reports}
    assert kinds == {"terraform", "dockerfile"}
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0, report["check_type"]
        assert report["summary"]["passed"] > 0, report["check_type"]


def test_no_failed_checks(reports: list[dict[str, Any]]) -> None:
    """Every check passes or is skipped inline with `#checkov:skip=CKV_...:reason`."""
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}"
        for report in reports
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)


def test_every_skip_has_a_reason(reports: list[dict[str, Any]]) -> None:
    """A skipped check carries the reason it does not apply."""
    for report in reports:
        for check in report["results"]["skipped_checks"]:
            reason = (check.get("check_result") or {}).get("suppress_comment") or ""
            assert len(reason.strip()) >= 20, f"{check['check_id']} skipped without a reason"
