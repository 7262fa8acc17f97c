"""``opsplane redact``: filter stdin to stdout through the redactor."""

from __future__ import annotations

import argparse
import sys

from shared import redaction


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("redact", help="redact secrets from stdin to stdout")
    parser.set_defaults(func=run)


def run(_: argparse.Namespace) -> int:
    for line in sys.stdin:
        sys.stdout.write(redaction.redact_text(line))
    return 0
