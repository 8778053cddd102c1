"""Write bench.json, bench.md, bench.csv and bench.png: all four or none.

Files are written into a staging folder next to the output folder and moved in
only when all of them are complete, so an interrupted run leaves no half table.
This module sits above report.py and chart.py (both only read the report), so
neither imports the other's writer.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .chart import write_chart
from .report import FILES, BenchReport, csv_text, finite, markdown


def write_files(report: BenchReport, out_dir: Path) -> dict[str, str]:
    """Write the four files into `out_dir` (created), all or none."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    report.out_dir = str(out_dir)
    report.files = {name.split(".")[1]: str(out_dir / name) for name in FILES}
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        write_chart(report, stage / "bench.png")
        (stage / "bench.md").write_text(markdown(report))
        (stage / "bench.csv").write_text(csv_text(report))
        (stage / "bench.json").write_text(json.dumps(finite(report.to_dict()), indent=2,
                                                     allow_nan=False) + "\n")
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            os.replace(stage / name, out_dir / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return report.files
