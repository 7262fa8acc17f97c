"""Latency sampling of configured endpoints, hourly rollups and SLO alerts.

config   targets and options from OPSPLANE_LATENCY_CONFIG
lock     the lease that keeps runs from overlapping
sampler  timed requests (httpx, monotonic clock)
raw      hourly sample objects, rotation, retention
rollup   per source and hour: count, p50/p95/p99, max, error rate, breach flag
slo      consecutive-breach states and multi-window burn rates
alerts   payloads sent through the signed webhook poster
job      one whole run, recorded in the run log
"""

from shared.latency.config import LatencyConfig, Target, load_config
from shared.latency.job import HEARTBEAT_NAME, JOB_NAME, LatencyRun, RunSummary, run_latency_job
from shared.latency.rollup import Rollup, read_rollups, to_csv

__all__ = [
    "HEARTBEAT_NAME",
    "JOB_NAME",
    "LatencyConfig",
    "LatencyRun",
    "Rollup",
    "RunSummary",
    "Target",
    "load_config",
    "read_rollups",
    "run_latency_job",
    "to_csv",
]
