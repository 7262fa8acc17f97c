"""Every deployable function, so one command serves any of them:

    functions-framework --source functions/main.py --target <name>

``TARGETS`` maps each target to the path prefixes it owns; the local stack
routes by it and the infra consistency tests check Terraform against it.
Target ``<name>`` is ``functions/<name>.py``'s ``<name>_function``; it is
imported only when asked for, so a Cloud Run service pays at cold start for its
own function alone, not for every other one in the image.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

# functions-framework loads this file by path, not as a package module.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TARGETS: dict[str, tuple[str, ...]] = {
    "health": ("/health", "/openapi.json"),
    "runs": ("/runs",),
    "execute_task": ("/tasks",),
    "sweeper": ("/sweeper",),
    "latency": ("/latency",),
    "scheduled": ("/schedule",),
    "callbacks": ("/callbacks",),
    "ops": ("/ops",),
    "dlq": ("/dlq",),
    "export": ("/export",),
    "dashboard": ("/dashboard",),
}


def __getattr__(name: str) -> Any:
    if name not in TARGETS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    function = getattr(importlib.import_module(f"functions.{name}"), f"{name}_function")
    globals()[name] = function  # later lookups skip this hook
    return function


def __dir__() -> list[str]:
    return sorted([*globals(), *TARGETS])
