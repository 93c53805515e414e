"""Run every benchmark module of this folder in turn (`make bench`)."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path


def main() -> int:
    status = 0
    for module in sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])):
        if not module.startswith("bench_"):
            continue
        print(f"== bench.{module}", flush=True)
        status |= subprocess.call([sys.executable, "-m", f"bench.{module}"])
    return status


if __name__ == "__main__":
    sys.exit(main())
