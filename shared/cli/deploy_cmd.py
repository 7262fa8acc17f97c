"""``opsplane verify-deployment``: every deployed function's health, as a table."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from shared import verify_deployment as vd


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "verify-deployment",
        help="check each deployed function's health endpoints",
        description=(
            "GET each function's health routes (/health, /health/test, /tasks/health...) "
            "and print a table; exit 1 if any check fails."
        ),
    )
    parser.add_argument("--base-url", help="one URL serving every function (local stack, LB)")
    parser.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a function's own URL (repeatable), e.g. runs=https://opsplane-runs-123.a.run.app",
    )
    parser.add_argument(
        "--services-json",
        type=Path,
        metavar="FILE",
        help="service URLs from `terraform -chdir=infra output -json service_urls` ('-' = stdin)",
    )
    parser.add_argument(
        "--token-env",
        default="OPSPLANE_ID_TOKEN",
        metavar="VAR",
        help="environment variable holding an ID token for private services "
        "(e.g. from `gcloud auth print-identity-token`); default OPSPLANE_ID_TOKEN",
    )
    parser.add_argument(
        "--api-token-env",
        default="OPSPLANE_API_TOKEN",
        metavar="VAR",
        help="environment variable holding an API token for health routes that ask for one "
        "(/tasks/health); default OPSPLANE_API_TOKEN, as for `opsplane runs`",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def _named_urls(args: argparse.Namespace) -> dict[str, str]:
    services: dict[str, str] = {}
    if args.services_json is not None:
        text = sys.stdin.read() if str(args.services_json) == "-" else _read(args.services_json)
        services.update(vd.parse_services_json(text))
    for item in args.service:
        name, sep, url = item.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise vd.DeploymentSpecError(f"--service expects NAME=URL, got {item!r}")
        services[name.strip()] = url.strip()
    return services


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise vd.DeploymentSpecError(f"cannot read {path}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    try:
        targets, routers = vd.load_routers()
        services = vd.select_services(targets, base_url=args.base_url, services=_named_urls(args))
    except vd.DeploymentSpecError as exc:
        print(f"opsplane verify-deployment: {exc}", file=sys.stderr)
        return 2
    token = os.environ.get(args.token_env, "").strip() or None
    api_token = os.environ.get(args.api_token_env, "").strip() or None
    results = vd.verify(
        vd.plan_probes(services, routers, targets),
        token=token,
        api_token=api_token,
        timeout_s=args.timeout,
    )
    if args.json:
        print(json.dumps(vd.results_as_json(results), indent=2))
    else:
        print(vd.render_table(results))
    return 0 if vd.all_passed(results) else 1
