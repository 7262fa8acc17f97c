"""``opsplane export dashboard`` and ``opsplane export verify``.

``dashboard`` runs one export (the same run ``POST /export/dashboard``
makes), prints it as JSON and exits 0 when every dataset and the upload
went through, 1 otherwise. ``verify`` re-checks the bundle in the store (or
a directory with ``--dir``, or one kept bundle with ``--history``) and exits 1
naming the first problem. The kept bundles never change, so they verify even
while another export is moving ``exports/dashboard/`` forward.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any


def _dataset(text: str) -> str:
    from shared.exports.datasets import check_names

    try:
        check_names([text])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _command(text: str) -> str:
    from shared.exports.upload import parse_command

    try:
        parse_command(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"cannot parse the upload command: {exc}") from None
    return text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("export", help="dashboard datasets, manifest and checksums")
    commands = parser.add_subparsers(dest="export_command", metavar="COMMAND", required=True)
    dashboard = commands.add_parser("dashboard", help="export the dashboard datasets once")
    dashboard.add_argument(
        "--dataset",
        action="append",
        type=_dataset,
        dest="datasets",
        metavar="NAME",
        help="export only this dataset (repeatable; default: all)",
    )
    dashboard.add_argument(
        "--provenance",
        type=Path,
        metavar="FILE",
        help="a JSON object added to the manifest's provenance (its 'inputs' join ours)",
    )
    dashboard.add_argument(
        "--upload-command",
        type=_command,
        metavar="CMD",
        help="run CMD on the bundle directory ({bundle} in CMD, else appended); no shell",
    )
    dashboard.set_defaults(func=run_dashboard)
    verify = commands.add_parser("verify", help="re-check checksums, row counts and schemas")
    source = verify.add_mutually_exclusive_group()
    source.add_argument("--dir", type=Path, help="verify a bundle directory instead of the store")
    source.add_argument(
        "--history",
        type=int,
        metavar="SEQUENCE",
        help="verify the kept bundle of export SEQUENCE (it never changes once written)",
    )
    verify.set_defaults(func=run_verify)


def _read_provenance(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(f"opsplane: error: cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise SystemExit(f"opsplane: error: {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SystemExit(f"opsplane: error: {path} must hold a JSON object")
    return data


def run_dashboard(args: argparse.Namespace) -> int:
    from shared import runtime
    from shared.exports import DATASET_NAMES, check_names, provenance_for, run_export

    datasets = check_names(args.datasets) if args.datasets else DATASET_NAMES
    extra = _read_provenance(args.provenance) if args.provenance else None
    command = "opsplane export dashboard" + "".join(
        f" --dataset {shlex.quote(name)}" for name in args.datasets or ()
    )
    if args.upload_command:
        command += " --upload-command ..."  # the command itself may carry credentials
    result = run_export(
        runtime.store(),
        datasets=datasets,
        provenance=provenance_for(command, datasets, extra),
        upload_command=args.upload_command,
    )
    print(json.dumps(result.to_json(), indent=2, sort_keys=True))
    for error in result.errors:
        print(f"opsplane: export: {error}", file=sys.stderr)
    return 0 if not result.errors else 1


def run_verify(args: argparse.Namespace) -> int:
    from shared import runtime
    from shared.exports import directory_reader, store_reader, verify_bundle

    if args.dir is not None:
        if not args.dir.is_dir():
            print(f"opsplane: error: {args.dir} is not a directory", file=sys.stderr)
            return 2
        reader = directory_reader(args.dir)
    elif args.history is not None:
        from shared.exports.history import find_bundle

        prefix = find_bundle(runtime.store(), args.history)
        if prefix is None:
            print(f"opsplane: error: no kept bundle of export {args.history}", file=sys.stderr)
            return 2
        reader = store_reader(runtime.store(), prefix)
    else:
        reader = store_reader(runtime.store())
    problems = verify_bundle(reader)
    if problems:
        print(f"opsplane: export verify: {problems[0]}", file=sys.stderr)
        for problem in problems[1:]:
            print(f"  also: {problem}", file=sys.stderr)
        return 1
    print("export bundle verified: manifest and every dataset match")
    return 0
