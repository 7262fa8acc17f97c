"""Every deployable function, so one command serves any of them:

    functions-framework --source functions/main.py --target <name>

``TARGETS`` maps each target to the path prefixes it owns; the local stack
routes by it and the infra consistency tests check Terraform against it.
"""

from __future__ import annotations

import os
import sys

# functions-framework loads this file by path, not as a package module.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from functions.callbacks import callbacks_function as callbacks
from functions.dlq import dlq_function as dlq
from functions.execute_task import execute_task_function as execute_task
from functions.health import health_function as health
from functions.latency import latency_function as latency
from functions.ops import ops_function as ops
from functions.runs import runs_function as runs
from functions.scheduled import scheduled_function as scheduled
from functions.sweeper import sweeper_function as sweeper

TARGETS: dict[str, tuple[str, ...]] = {
    "health": ("/health",),
    "runs": ("/runs",),
    "execute_task": ("/tasks",),
    "sweeper": ("/sweeper",),
    "latency": ("/latency",),
    "scheduled": ("/schedule",),
    "callbacks": ("/callbacks",),
    "ops": ("/ops",),
    "dlq": ("/dlq",),
}

__all__ = [
    "TARGETS",
    "callbacks",
    "dlq",
    "execute_task",
    "health",
    "latency",
    "ops",
    "runs",
    "scheduled",
    "sweeper",
]
