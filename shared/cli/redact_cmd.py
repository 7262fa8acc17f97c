"""``opsplane redact``: filter stdin to stdout through the redactor.

    kubectl logs deploy/worker | opsplane redact > shareable.log
    opsplane redact --pattern 'ACME-[0-9]{6}' --placeholder '***' < report.md

Custom patterns and placeholder come from ``OPSPLANE_REDACTION_PATTERNS`` /
``OPSPLANE_REDACTION_PLACEHOLDER`` and from the options (which add to and
override them). Input is streamed line by line, except that a private key
block is gathered from BEGIN to END first so that it goes as a whole.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator

from shared.redaction import PATTERNS_ENV, PLACEHOLDER_ENV, Redactor
from shared.settings import SettingsError

# A PEM block longer than this is let through line by line (each line still
# redacted) rather than held in memory without bound.
_MAX_BLOCK_LINES = 200


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "redact",
        help="redact secrets from stdin to stdout",
        description="Copy stdin to stdout with secrets replaced by placeholders.",
    )
    parser.add_argument(
        "--pattern",
        action="append",
        default=[],
        metavar="REGEX",
        help="an extra regular expression to redact (repeatable)",
    )
    parser.add_argument(
        "--placeholder", help="replacement for generic secrets (default [REDACTED])"
    )
    parser.set_defaults(func=run)


def chunks(lines: Iterable[str]) -> Iterator[str]:
    """Lines one by one, except a private key block, which comes as one chunk."""
    block: list[str] = []
    for line in lines:
        if block:
            block.append(line)
            if "-----END" in line or len(block) >= _MAX_BLOCK_LINES:
                yield "".join(block)
                block = []
        elif "-----BEGIN" in line and "PRIVATE KEY" in line and "-----END" not in line:
            block.append(line)
        else:
            yield line
    if block:
        yield "".join(block)


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.pattern:
        try:
            configured = json.loads(env.get(PATTERNS_ENV, "") or "[]")
        except json.JSONDecodeError:
            configured = None  # from_env below reports it, naming the variable
        if isinstance(configured, list):
            env[PATTERNS_ENV] = json.dumps([*configured, *args.pattern])
    if args.placeholder is not None:
        env[PLACEHOLDER_ENV] = args.placeholder
    try:
        redactor = Redactor.from_env(env)
    except SettingsError as exc:
        print(f"opsplane redact: {exc}", file=sys.stderr)
        return 2
    for chunk in chunks(sys.stdin):
        sys.stdout.write(redactor.redact_text(chunk))
    sys.stdout.flush()
    return 0
