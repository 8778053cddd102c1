#!/usr/bin/env python3
"""Regenerate recipes/paddle_inference.toml from recipes/sources/paddle_lib_matrix.json.gz.

Usage: python scripts/build_manifest.py [--matrix PATH] [--out PATH]
The logic lives in toolchain/library/manifest_build.py (tested by tests/unit/test_manifest.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolchain.library.manifest_build import MATRIX_PATH, build_manifest  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=MATRIX_PATH,
                        help="the download matrix, .json or .json.gz (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "recipes" / "paddle_inference.toml")
    args = parser.parse_args(argv)
    if not args.matrix.is_file():
        print(f"error: matrix not found: {args.matrix}", file=sys.stderr)
        return 2
    n = build_manifest(args.matrix, args.out)
    print(f"wrote {n} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
