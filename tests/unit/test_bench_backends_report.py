"""Pure parts of `invoke bench --backends`: the flag, variant keys, the fastest marker, the
backends table in bench.md, bench.csv and on screen, and the missing-extra message."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest

from toolchain.bench.report import (BACKEND_HEAD, BenchReport, backend_table, csv_text,
                                    markdown)
from toolchain.bench.rows import BenchRow, PrecisionResult, variant_key
from toolchain.bench.run import BenchRequest, parse_backends, parse_request
from toolchain.errors import LabError
from toolchain.runners.result import LatencyStats
from support import ROOT


def _stats(p50: float) -> LatencyStats:
    return LatencyStats.from_samples([p50 * f for f in (0.9, 0.95, 1.0, 1.0, 1.0, 1.1, 1.3)])


def _res(backend, precision, ms=None, top1=None, cannot=""):
    return PrecisionResult(precision=precision, model_dir=f"/m/{precision}", backend=backend,
                           runner="python", device="cpu", threads=2,
                           latency_ms=None if ms is None else _stats(ms), top1=top1,
                           top5=None if top1 is None else top1 + 0.05, cannot_run=cannot)


def _row(kind="trained") -> BenchRow:
    row = BenchRow("small_cnn", kind, "", 1,
                   {"fp32": _res("paddle", "fp32", 10.0, 0.80),
                    "int8": _res("paddle", "int8", 4.0, 0.79)})
    row.backends = {
        "openvino:fp32": _res("openvino", "fp32", 8.0, 0.80),
        "openvino:int8": _res("openvino", "int8", 5.0, 0.78),
        "onnxruntime:fp32": _res("onnxruntime", "fp32", 12.5, 0.80),
        "onnxruntime:int8": _res("onnxruntime", "int8",
                                 cannot="paddle2onnx failed: no converter for quantize_linear"),
    }
    return row.derive()


def _report(rows) -> BenchReport:
    req = BenchRequest(device="cpu", runner="python",
                       backends=["paddle", "openvino", "onnxruntime"])
    return BenchReport(created_at="2026-12-03T12:00:00Z", out_dir="", request=req.to_dict(),
                       rule=req.rule(), rows=rows, provenance={})


def test_parse_backends_puts_paddle_first_once():
    assert parse_backends("openvino") == ["paddle", "openvino"]
    assert parse_backends("ONNXRuntime, paddle,openvino,openvino") == \
        ["paddle", "onnxruntime", "openvino"]
    assert parse_request(backends="paddle").backends == ["paddle"]
    assert BenchRequest().backends == ["paddle"] and BenchRequest().other_backends() == []
    with pytest.raises(LabError, match="unknown backend.*tensorflow") as err:
        parse_backends("openvino,tensorflow")
    assert "paddle, openvino, onnxruntime" in err.value.hint
    with pytest.raises(LabError, match=r"\(none given\)"):
        parse_backends(" , ")


def test_other_backends_need_the_cpu():
    req = parse_request(backends="openvino", precisions="fp32,int8")
    assert req.other_backends() == [("openvino", "fp32"), ("openvino", "int8")]
    with pytest.raises(LabError, match="--device gpu") as err:
        parse_request(backends="openvino", device="gpu")
    assert "--device cpu" in err.value.hint
    assert parse_request(backends="paddle", device="gpu").device == "gpu"


def test_variant_keys():
    assert variant_key("paddle", "int8") == "int8"
    assert variant_key("openvino", "int8") == "openvino:int8"


def test_fastest_per_precision_skips_rows_that_cannot_run():
    row = _row()
    assert row.fastest == {"fp32": "openvino", "int8": "paddle"}
    assert [r.backend for r in row.by_precision()["int8"]] == ["paddle", "openvino",
                                                               "onnxruntime"]
    # Paddle's own speed-up and drop are over Paddle's results only, as without --backends
    assert row.speedup == {"int8": pytest.approx(2.5)}
    only_paddle = BenchRow("m", "trained", "", 1, {"fp32": _res("paddle", "fp32", 10.0)}).derive()
    assert only_paddle.fastest == {}


def test_backend_table_ratios_markers_and_reasons():
    body = backend_table(_report([_row()]))
    assert len(body) == 6 and all(len(cells) == len(BACKEND_HEAD) for cells in body)
    by = {(c[1], c[2]): dict(zip(BACKEND_HEAD, c)) for c in body}
    ov32, ov8 = by[("fp32", "openvino")], by[("int8", "openvino")]
    assert ov32["vs Paddle (x)"] == "1.25" and ov32["Fastest"] == "fastest"
    assert ov8["vs Paddle (x)"] == "0.80" and ov8["vs own FP32 (x)"] == "1.60"
    assert by[("int8", "paddle")]["vs own FP32 (x)"] == "2.50"
    assert by[("int8", "paddle")]["Fastest"] == "fastest"
    assert by[("fp32", "onnxruntime")]["top-1/top-5 (%)"] == "80.00/85.00"
    assert by[("int8", "onnxruntime")]["top-1/top-5 (%)"] == \
        "cannot run: paddle2onnx failed: no converter for quantize_linear"
    # grouped by precision, Paddle first in each group
    assert [(c[1], c[2]) for c in body][:3] == [("fp32", "paddle"), ("fp32", "openvino"),
                                                ("fp32", "onnxruntime")]


def test_markdown_and_csv_carry_the_backends():
    rep = _report([_row()])
    md = markdown(rep)
    assert "## Backends on the same files, inputs and timer" in md
    assert "| small_cnn | int8 | onnxruntime | cannot run: paddle2onnx failed" in md
    rows = list(csv.DictReader(io.StringIO(csv_text(rep))))
    assert [(r["precision"], r["runner"]) for r in rows] == [
        ("fp32", "python"), ("int8", "python"), ("fp32", "openvino"), ("int8", "openvino"),
        ("fp32", "onnxruntime"), ("int8", "onnxruntime")]
    assert rows[-1]["stop_reason"].startswith("paddle2onnx failed") and rows[-1]["p50_ms"] == ""
    plain = _report([BenchRow("m", "trained", "", 1,
                              {"fp32": _res("paddle", "fp32", 10.0)}).derive()])
    assert "## Backends" not in markdown(plain)


def test_screen_table_fits_80_columns_and_marks_the_fastest():
    from rich.console import Console

    from toolchain.bench.render import render_report

    con = Console(width=80, record=True, color_system=None)
    render_report(con, _report([_row()]))
    text = con.export_text()
    assert "Backends on the same files" in text
    assert "openvino*" in text and "cannot run: paddle2onnx failed" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_three_precisions_and_the_widest_backend_rows_still_fit_unbroken():
    """FP32/INT8/BF16 with ONNX Runtime fastest and a top-5 of 100: every cell whole on its
    line (headers may wrap between words), nothing past 80 columns."""
    from rich.console import Console

    from toolchain.bench.render import render_report

    row = _row()
    row.results["fp32"] = _res("paddle", "fp32", 47.778, 0.95)
    row.results["bf16"] = _res("paddle", "bf16", 3.0, 0.95)
    row.backends["onnxruntime:fp32"] = _res("onnxruntime", "fp32", 1.0, 0.95)
    row.backends["openvino:bf16"] = _res("openvino", "bf16", 1.5, 0.95)
    row.backends["onnxruntime:bf16"] = _res("onnxruntime", "bf16",
                                            cannot="onnxruntime has no bfloat16 kernels")
    con = Console(width=80, record=True, color_system=None)
    render_report(con, _report([row.derive()]))
    text = con.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    main = next(ln for ln in lines if ln.startswith("small_cnn") and "47.78" in ln)
    assert main.split() == ["small_cnn", "95.0", "79.0", "95.0", "47.78", "4.000", "3.000",
                            "11.94", "15.93"]        # top-1 alone, no reduction columns
    assert "Top-5 and the latency reductions" in text
    assert any(ln.split()[1:6] == ["onnxruntime*", "95.0/100.0", "1.000", "1.180", "47.78"]
               for ln in lines), text
    assert sum(ln.split()[-3:] == ["onnxruntime", "cannot", "run"] for ln in lines) == 2
    assert all(w in text for w in ("stable", "paddle", "fp32"))   # headers whole words


def test_a_missing_backend_package_names_the_extra():
    # openvino made unimportable in a fresh interpreter: one message, naming the extra
    code = ("import sys; sys.modules['openvino'] = None\n"
            "from toolchain.backends import require_installed\n"
            "from toolchain.errors import LabError\n"
            "try:\n    require_installed(['paddle', 'openvino'])\n"
            "except LabError as err:\n    print(err.message); print(err.hint)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "backend openvino: openvino is not installed" in out.stdout
    assert ".[backends]" in out.stdout


def test_compare_covers_the_other_engines_variants():
    """`bench --backends ... --compare OLD`: each backend variant that ran is a change row of
    its own ("openvino:int8"); one that could not run is none."""
    from toolchain.bench.compare import compare

    old = _report([_row()]).to_dict()
    new_row = _row()
    new_row.backends["openvino:int8"] = _res("openvino", "int8", 5.5, 0.78)
    new = _report([new_row.derive()]).to_dict()
    by = {r.precision: r for r in compare(new, old).rows}
    assert set(by) == {"fp32", "int8", "openvino:fp32", "openvino:int8", "onnxruntime:fp32"}
    assert by["openvino:int8"].p50_change_pct == pytest.approx(10.0)
    assert by["openvino:fp32"].p50_change_pct == pytest.approx(0.0)
    assert by["openvino:int8"].old_top1 == pytest.approx(0.78)


def test_chart_bars_the_other_engines_under_paddles_of_each_precision(tmp_path):
    """bench.png with --backends: per precision Paddle's bar, then each engine's that ran
    (none for one that cannot run), labelled with its speed against Paddle; the fastest
    says so. The chart itself is written and looked at (docs: bench.md)."""
    from toolchain.bench.chart import variant_text, variants, write_chart

    row = _row()
    bars = variants(row, ["fp32", "int8"])
    assert [(b, r.precision) for b, r in bars] == [
        ("", "fp32"), ("openvino", "fp32"), ("onnxruntime", "fp32"),
        ("", "int8"), ("openvino", "int8")]          # onnxruntime:int8 cannot run: no bar
    texts = {(b, r.precision): variant_text(row, b, r) for b, r in bars}
    assert texts[("openvino", "fp32")] == "8 ms  1.25x Paddle's  (fastest)"
    assert texts[("onnxruntime", "fp32")] == "12.5 ms  0.80x Paddle's"
    assert texts[("", "int8")] == "4 ms  2.50x faster  (fastest)"
    assert texts[("openvino", "int8")] == "5 ms  0.80x Paddle's"
    write_chart(_report([row]), tmp_path / "bench.png")
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
