"""The dashboard in a real headless Chromium, served by the local stack from a seeded store.

Chromium comes from Debian's ``chromium`` package (``make browser`` installs it;
``make test`` depends on that). The page is loaded from ``python -m
shared.localstack``, its DOM dumped after rendering and checked against the
seeded figures; a screenshot is kept under ``tests/artefacts/``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from shared.clock import utcnow
from shared.storage import open_store
from tests.stack_process import served_stack
from tests.unit.test_exports_seed import Expected, seed

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = REPO / "tests" / "artefacts"
TASKS_TOKEN = "browser-test-tasks-token"
_BAR_AREA = 160  # the chart's full-scale bar height (shared/exports/page.py)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "chromium is not installed; run `make browser`"
        if shutil.which("apt-get") is None:
            reason = "chromium is not installed and apt-get is unavailable to install it"
        pytest.skip(reason)
    return found


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, Expected]]:
    """The local stack on a file:// store seeded with known runs and latency data."""
    store_url = f"file://{tmp_path / 'store'}"
    expected = seed(open_store(store_url), utcnow())
    settings = {"OPSPLANE_STORE": store_url, "TASKS_AUTH_TOKEN": TASKS_TOKEN}
    with served_stack(settings) as server:
        yield server.url, expected


class _Elements(HTMLParser):
    """Every element's tag and attributes in document order, and each bar's group."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.bar_of: dict[int, dict[str, str]] = {}  # id(group attrs) -> its rect

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        groups = [a for t, a in self.elements if t == "g"]
        if tag == "rect" and groups:
            self.bar_of[id(groups[-1])] = found
        self.elements.append((tag, found))


def _browser_args(profile: Path) -> list[str]:
    return [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]


def test_dashboard_renders_the_seeded_numbers_in_chromium(stack, tmp_path: Path) -> None:
    """Exported through the stack, the page in Chromium shows each seeded figure as a chart."""
    base_url, expected = stack
    export = httpx.post(
        f"{base_url}/export/dashboard",
        headers={"Authorization": f"Bearer {TASKS_TOKEN}"},
        timeout=60,
    )
    assert export.status_code == 200, export.text
    assert export.json()["status"] == "ok", export.json()

    dom = subprocess.run(
        [*_browser_args(tmp_path / "profile"), "--dump-dom", f"{base_url}/dashboard"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    parser = _Elements()
    parser.feed(dom.stdout)
    groups = [attrs for tag, attrs in parser.elements if tag == "g"]
    assert {"chart-success-rate", "chart-dead-letters", "chart-p95-api", "chart-p95-web"} <= {
        attrs.get("id") for tag, attrs in parser.elements if tag == "svg"
    }

    success = {g["data-day"]: g for g in groups if "data-success-rate" in g}
    assert set(success) == set(expected.per_day)
    for day, (ok, failed) in expected.per_day.items():
        rate = ok / (ok + failed)
        assert float(success[day]["data-success-rate"]) == pytest.approx(rate, abs=1e-4)
        assert f"{rate * 100:.1f}%" in dom.stdout
        # The bar's height is the rate on the chart's scale: the chart really drew it.
        bar = parser.bar_of[id(success[day])]
        assert float(bar["height"]) == pytest.approx(rate * _BAR_AREA, abs=0.2)

    p95 = {
        (g["data-source"], g["data-hour"]): g["data-p95-ms"] for g in groups if "data-p95-ms" in g
    }
    assert p95 == {key: f"{value:.1f}" for key, value in expected.p95_ms.items()}

    letters = {g["data-job-type"]: int(g["data-open"]) for g in groups if "data-open" in g}
    assert {k: v for k, v in letters.items() if v} == expected.open_letters
    tiles = {
        attrs["data-source"]: attrs["data-state"]
        for tag, attrs in parser.elements
        if tag == "div" and "slo" in attrs.get("class", "")
    }
    assert tiles == expected.slo_states
    assert re.search(r"export sequence \d+", dom.stdout)

    ARTEFACTS.mkdir(exist_ok=True)
    screenshot = ARTEFACTS / "dashboard.png"
    screenshot.unlink(missing_ok=True)
    shot = subprocess.run(
        [
            *_browser_args(tmp_path / "profile-shot"),
            f"--screenshot={screenshot}",
            "--window-size=1280,900",
            "--hide-scrollbars",
            f"{base_url}/dashboard",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000  # a blank page compresses to far less
