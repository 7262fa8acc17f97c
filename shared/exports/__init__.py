"""Dashboard exports: datasets with a manifest and checksums, history, verification, a page.

datasets  run_history, dlq_summary, latency_rollups, slo_status, schedule_status
manifest  sequence numbers (create-only markers), checksums, forward-only writes
export    one run: build, keep history, publish, heartbeat, upload, run log
history   eight weeks of immutable bundles under exports/history/
upload    the operator's upload command, run without a shell
verify    checksums, row counts and JSON Schemas re-checked
page      the HTML dashboard with inline SVG charts
job       the schedule runner's dashboard_export job
"""

from shared.exports.datasets import DATASET_NAMES, check_names
from shared.exports.export import (
    HEARTBEAT_NAME,
    JOB_NAME,
    ExportResult,
    provenance_for,
    run_export,
)
from shared.exports.manifest import MANIFEST_NAME
from shared.exports.verify import Problem, directory_reader, store_reader, verify_bundle

__all__ = [
    "DATASET_NAMES",
    "HEARTBEAT_NAME",
    "JOB_NAME",
    "MANIFEST_NAME",
    "ExportResult",
    "Problem",
    "check_names",
    "directory_reader",
    "provenance_for",
    "run_export",
    "store_reader",
    "verify_bundle",
]
