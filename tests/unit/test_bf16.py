"""BF16 on the CPU: the plan, the flags and the CPU gate (a real cpuinfo file)."""

from __future__ import annotations

import pytest

from toolchain import flags
from toolchain.doctor.collectors import BF16_FLAGS, cpu_bf16_flags
from toolchain.errors import LabError
from toolchain.runners.configplan import PlanOptions, config_plan
from toolchain.runners.run import require_cpu_bf16

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: Some CPU
flags\t\t: fpu sse sse2 avx avx2 {extra}

"""


def test_cpu_bf16_plan_runs_the_fp32_model_through_onednn_bfloat16():
    plan = config_plan("cpu", "bf16", "fp32", PlanOptions(threads=2))
    assert plan == [("disable_gpu",), ("switch_ir_optim", True), ("enable_mkldnn",),
                    ("enable_mkldnn_bfloat16",), ("set_cpu_math_library_num_threads", 2)]


def test_bf16_on_a_quantized_model_is_refused():
    with pytest.raises(LabError, match="quantized") as e:
        config_plan("cpu", "bf16", "quantized")
    assert "--int8" in e.value.hint


def test_bf16_without_onednn_is_refused():
    with pytest.raises(LabError, match="oneDNN"):
        config_plan("cpu", "bf16", "fp32", PlanOptions(onednn=False))


def test_bf16_on_the_gpu_is_refused_with_what_to_use():
    with pytest.raises(LabError, match="BF16 runs on the CPU through oneDNN") as e:
        config_plan("gpu", "bf16", "fp32", PlanOptions(cache_root="/c"))
    assert "--fp16" in e.value.hint and "--int8" in e.value.hint


def test_bf16_is_one_more_precision_flag():
    assert "bf16" in flags.PRECISIONS and "bf16" in flags.HELP
    assert flags.precision_of(False, False, False, True) == "bf16"
    with pytest.raises(LabError, match="--int8 and --bf16"):
        flags.precision_of(True, False, False, True)


def test_cpu_gate_refuses_a_cpu_without_the_bf16_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra="avx512f avx512_vnni amx_int8"))
    assert cpu_bf16_flags(cpuinfo) == []
    with pytest.raises(LabError) as e:
        require_cpu_bf16(cpuinfo)
    assert all(flag in str(e.value) for flag in BF16_FLAGS)
    assert "--fp32" in e.value.hint and "--int8" in e.value.hint


@pytest.mark.parametrize("flag", BF16_FLAGS)
def test_cpu_gate_passes_with_either_flag(tmp_path, flag):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra=flag))
    assert cpu_bf16_flags(cpuinfo) == [flag]
    require_cpu_bf16(cpuinfo)


def test_bench_takes_bf16_runs_it_on_the_fp32_folder_and_shows_its_column(tmp_path):
    from toolchain.bench.chart import write_chart
    from toolchain.bench.report import BenchReport, main_table, markdown
    from toolchain.bench.rows import BenchRow, PrecisionResult
    from toolchain.bench.run import BenchRequest, model_subdir, parse_request
    from toolchain.runners.result import LatencyStats

    assert parse_request(precisions="fp32,int8,bf16").precisions == ["fp32", "int8", "bf16"]
    assert model_subdir("bf16") == "fp32" and model_subdir("int8") == "int8"

    def res(p, ms, top1):
        return PrecisionResult(precision=p, model_dir=f"/m/small/{model_subdir(p)}",
                               model_sha256="ab" * 32, runner="python", device="cpu",
                               threads=2, latency_ms=LatencyStats.from_samples([ms] * 5),
                               throughput_ips=1000 / ms, top1=top1, top5=top1 + 0.1,
                               images=200)
    row = BenchRow("small", "trained", "", 1, {"fp32": res("fp32", 40.0, 0.80),
                                               "int8": res("int8", 8.0, 0.79),
                                               "bf16": res("bf16", 10.0, 0.795)}).derive()
    assert row.speedup["bf16"] == pytest.approx(4.0)
    req = BenchRequest(device="cpu", runner="python", precisions=["fp32", "int8", "bf16"])
    rep = BenchReport(created_at="2026-12-03T12:00:00Z", out_dir="", request=req.to_dict(),
                      rule=req.rule(), rows=[row],
                      provenance={"host": {"hostname": "h", "cpu_model": "AMD EPYC", "cores": 2},
                                  "paddle": {"version": "3.3.1"},
                                  "tool": {"version": "0.1.0", "git_commit": "abc"}})
    head, body = main_table(rep)
    assert "BF16 top-1/top-5 (%)" in head and "BF16 speed-up (x)" in head
    assert body[0][head.index("BF16 top-1/top-5 (%)")] == "79.50/89.50"
    assert body[0][head.index("BF16 speed-up (x)")] == "4.00"
    assert "BF16 p50 (ms)" in markdown(rep)
    write_chart(rep, tmp_path / "bench.png")
    assert (tmp_path / "bench.png").stat().st_size > 0


def test_quickstart_bf16_is_refused_before_any_step_on_a_cpu_without_it(tmp_path, monkeypatch):
    """`invoke quickstart --bf16` on a CPU whose cpuinfo lists neither flag: one message
    naming the file, before a dataset, model or library is made (the work dir stays empty)."""
    from toolchain.doctor import collectors
    from toolchain.quickstart import run_quickstart
    from toolchain.settings import LabSettings

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra="avx512f avx512_vnni"))
    monkeypatch.setattr(collectors, "CPUINFO", cpuinfo)
    work = tmp_path / "work"
    settings = LabSettings.from_mapping({"work_dir": str(work),
                                         "cache_dir": str(tmp_path / "cache"),
                                         "results_dir": str(tmp_path / "results")})
    said = []
    with pytest.raises(LabError) as err:
        run_quickstart(settings, bf16=True, say=lambda text, transient=False: said.append(text))
    assert "--bf16 needs a CPU with" in err.value.message
    assert err.value.where == str(cpuinfo)
    assert said == []
    assert not work.exists() and not (tmp_path / "results").exists()
