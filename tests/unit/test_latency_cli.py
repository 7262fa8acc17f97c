"""``opsplane latency sample`` and ``opsplane latency rollup``."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator

import pytest

from shared import runtime
from shared.cli import main
from tests.latency_servers import ScriptedTarget, scripted_target


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedTarget]:
    monkeypatch.setenv("OPSPLANE_STORE", f"memory://latency-cli-{uuid.uuid4().hex}")
    runtime.reset()
    with scripted_target(default_ms=2) as served:
        probe = {"name": "web", "url": served.url, "slo_p95_ms": 500, "source": "web"}
        monkeypatch.setenv("OPSPLANE_LATENCY_CONFIG", json.dumps({"targets": [probe]}))
        yield served


def test_sample_prints_the_run_as_json(target: ScriptedTarget, capsys) -> None:
    """The summary fields are printed; exit 0; five requests were made (the default)."""
    assert main(["latency", "sample", "--raw-retention-days", "3"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["status"] == "ok"
    assert set(run["summary"]) == {
        "samples_written",
        "rollups_written",
        "breach_count",
        "next_rotation_bytes",
    }
    assert run["summary"]["samples_written"] == 5 == target.hits


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["latency", "sample", "--raw-retention-days", "0"], id="zero-days"),
        pytest.param(["latency", "sample", "--rollup-retention-days", "x"], id="not-a-number"),
        pytest.param(["latency", "rollup", "--since", "yesterday"], id="bad-since"),
        pytest.param(["latency", "rollup", "--format", "xml"], id="bad-format"),
    ],
)
def test_bad_arguments_exit_2_before_doing_anything(
    target: ScriptedTarget, argv: list[str], capsys
) -> None:
    """argparse rejects them; no request is made."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert target.hits == 0


@pytest.mark.parametrize("output", ["table", "csv", "json"])
def test_rollup_formats(target: ScriptedTarget, capsys, output: str) -> None:
    """Each format shows the hour the sample run wrote."""
    main(["latency", "sample"])
    capsys.readouterr()
    assert main(["latency", "rollup", "--source", "web", "--format", output]) == 0
    out = capsys.readouterr().out
    if output == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert rows[0] == ["hour_utc", "p50_ms", "p95_ms", "breach_flag"]
        assert rows[1][3] == "false"
    elif output == "json":
        (rollup,) = json.loads(out)
        assert (rollup["source"], rollup["count"]) == ("web", 5)
    else:
        header, row = out.splitlines()
        assert header.split()[:3] == ["HOUR", "(UTC)", "SOURCE"]
        assert row.split()[1:3] == ["web", "5"]


def test_csv_needs_a_source(target: ScriptedTarget, capsys) -> None:
    """A CSV export has no source column, so it is for one source only."""
    assert main(["latency", "rollup", "--format", "csv"]) == 2
    assert "--source" in capsys.readouterr().err


def test_missing_configuration_is_one_clear_line(monkeypatch, capsys) -> None:
    """Without OPSPLANE_LATENCY_CONFIG the command names the variable and exits 1."""
    assert main(["latency", "sample"]) == 1
    assert "OPSPLANE_LATENCY_CONFIG" in capsys.readouterr().err
