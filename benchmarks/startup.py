"""Startup targets of issue 2: `invoke --list` < 0.5 s and `invoke doctor` < 3 s (wall).

Runs each command several times in this one run on this machine and prints the
median, the worst run and the ratio to its target (ratio < 1 meets it), plus the
bare interpreter start for scale and whether loading the tasks imported a heavy
module. Usage: python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INVOKE = [sys.executable, "-m", "invoke", "--search-root", str(ROOT)]
HEAVY = ("paddle", "numpy", "requests", "PIL", "matplotlib", "rich")

CASES = [
    ("python -c pass (interpreter start)", [sys.executable, "-c", "pass"], None),
    ("invoke --list", [*INVOKE, "--list"], 0.5),
    ("invoke doctor", [*INVOKE, "doctor"], 3.0),
    ("invoke doctor --json", [*INVOKE, "doctor", "--json"], 3.0),
]


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
    return took


def heavy_imports_at_load() -> list[str]:
    code = ("import sys; sys.path.insert(0, %r); import tasks; "
            "print(' '.join(m for m in %r if m in sys.modules))" % (str(ROOT), HEAVY))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'command':38} {'median s':>9} {'max s':>7} {'target s':>9} {'ratio':>6}")
    ok = True
    for name, argv, target in CASES:
        wall(argv)                                   # warm the file cache
        times = [wall(argv) for _ in range(args.runs)]
        med = statistics.median(times)
        ratio = f"{med / target:6.2f}" if target else "     -"
        tgt = f"{target:9.1f}" if target else "        -"
        print(f"{name:38} {med:9.3f} {max(times):7.3f} {tgt} {ratio}")
        if target and med >= target:
            ok = False
    heavy = heavy_imports_at_load()
    print(f"heavy modules imported by loading tasks.py: {', '.join(heavy) or 'none'}")
    print("targets met" if ok and not heavy else "TARGET MISSED")
    return 0 if ok and not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
