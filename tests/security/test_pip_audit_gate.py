"""The dependency-audit gate: fails on a vulnerability, warns when nothing could be audited."""

from __future__ import annotations

import json

import pytest

from tests.security import pip_audit_gate

CLEAN = {"name": "flask", "version": "3.1.3", "vulns": []}
SKIPPED = {"name": "httpx", "skip_reason": "Dependency not found on PyPI and could not be audited"}
VULNERABLE = {
    "name": "requests",
    "version": "2.0.0",
    "vulns": [{"id": "PYSEC-0000-1", "fix_versions": ["2.32.0"]}],
}


@pytest.mark.parametrize(
    ("code", "stdout", "exit_code", "says"),
    [
        pytest.param(
            0, json.dumps({"dependencies": [CLEAN, CLEAN]}), 0, "2 packages audited", id="clean"
        ),
        pytest.param(
            1, json.dumps({"dependencies": [CLEAN, VULNERABLE]}), 1, "PYSEC-0000-1", id="vulnerable"
        ),
        pytest.param(
            0,
            json.dumps({"dependencies": [SKIPPED, SKIPPED, CLEAN]}),
            0,
            "NOT audited",
            id="db-unreachable",
        ),
        pytest.param(1, "", 0, "could not reach", id="no-output"),
    ],
)
def test_gate_outcomes(
    *,
    code: int,
    stdout: str,
    exit_code: int,
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each pip-audit answer maps to the gate's exit code and a message naming what happened."""
    monkeypatch.setattr(pip_audit_gate, "run_pip_audit", lambda: (code, stdout, "ConnectionError"))
    assert pip_audit_gate.main() == exit_code
    assert says in capsys.readouterr().out
