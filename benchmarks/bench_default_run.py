"""Time a whole ``xssab-bench`` run from a fresh cache (the number in docs/benchmark.md).

    python benchmarks/bench_default_run.py                    # the no-argument default run
    python benchmarks/bench_default_run.py --pairs 200 --methods xssab,random

Extra arguments go to xssab-bench unchanged. A temporary XSSAB_HOME is used, so the
synthetic data are rendered and every stage computed (nothing comes from an earlier cache);
the same folder is then reused for a second, fully cached run to time a resume.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time

from rich.console import Console


def main() -> int:
    with tempfile.TemporaryDirectory() as home:
        os.environ["XSSAB_HOME"] = home
        from xssab.cli.bench import main as bench

        argv = sys.argv[1:]
        t0 = time.perf_counter()
        rc = bench(argv)
        t1 = time.perf_counter()
        quiet = Console(file=io.StringIO(), width=200)
        rc2 = bench(argv, console=quiet)
        t2 = time.perf_counter()
        print(f"fresh run: {t1 - t0:.1f} s (exit {rc}); cached rerun: {t2 - t1:.1f} s "
              f"(exit {rc2}); argv={argv}; cpus={os.cpu_count()}")
        return rc


if __name__ == "__main__":
    sys.exit(main())
