"""The soak in its short form: ``OPSPLANE_SOAK_SECONDS`` (20) at the local stack's capacity.

No answer but 202 and the expected 429s, every accepted run finished, and the
stack's RSS flat between the first and the last quarter of the run. The long
form (5 minutes) is ``make soak``; its figures are in docs/reliability.md.
"""

from __future__ import annotations

import os

import pytest

from tests.load.soak import soak

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("soak")]

SECONDS = float(os.environ.get("OPSPLANE_SOAK_SECONDS", "20"))


def test_sustained_load_has_no_errors_and_flat_memory() -> None:
    """A closed-loop soak: only 202/429, all runs finish, RSS growth under 25%."""
    report = soak(SECONDS, clients=6, drain_s=60)
    print("\n" + report.summary())
    assert not report.unexpected, report.unexpected
    assert set(report.statuses) <= {"202", "429"}, report.statuses
    assert report.submitted > 0
    assert report.unfinished == 0, report.summary()
    # A short run measures warm-up more than leaks; the 5-minute form holds 15%.
    assert report.rss_growth_pct < 25, report.summary()
