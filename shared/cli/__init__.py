"""The ``opsplane`` command line: one sub-command module per domain.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)`` and sets
``func`` on its parsers; a handler returns the process exit code. Modules are
imported when the CLI starts, domain SDKs only when a command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from shared import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "shared.cli.redact_cmd",
    "shared.cli.runlog_cmd",
    "shared.cli.schedule_cmd",
    "shared.cli.sign_cmd",
    "shared.cli.callbacks_cmd",
    "shared.cli.dlq_cmd",
    "shared.cli.approvals_cmd",
    "shared.cli.runs_cmd",
    "shared.cli.queue_cmd",
    "shared.cli.deploy_cmd",
    "shared.cli.latency_cmd",
    "shared.cli.report_cmd",
    "shared.cli.export_cmd",
    "shared.cli.demo_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsplane", description="Operations automation plane for background jobs."
    )
    parser.add_argument("--version", action="version", version=f"opsplane {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``opsplane`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a CLI prints one clear line, not a traceback
        from shared.redaction import redact_text

        print(f"opsplane: error: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    return code
