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
