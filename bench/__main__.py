"""Run every benchmark module, print the figures and write bench/results.json.

python -m bench              all benchmarks
python -m bench storage      only those whose module name contains "storage"
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from pathlib import Path

from bench.harness import RESULTS_PATH, Results


def main(argv: list[str]) -> int:
    results = Results()
    names = sorted(
        info.name
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if info.name.startswith("bench_")
    )
    failed = []
    for name in names:
        if argv and not any(word in name for word in argv):
            continue
        module = importlib.import_module(f"bench.{name}")
        try:
            module.run(results)
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
        # Written after every module, so an interrupted run keeps what it measured.
        results.write(merge=bool(argv))
    print(f"\nwrote {len(results.rows)} rows to {RESULTS_PATH.name}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
