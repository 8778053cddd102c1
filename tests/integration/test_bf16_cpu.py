"""BF16 on the real paddle engine (CPU, oneDNN bfloat16): finite, close to FP32."""

from __future__ import annotations

import math

import pytest

from toolchain.doctor.collectors import cpu_bf16_flags
from toolchain.errors import LabError
from toolchain.runners.run import run_accuracy, run_latency

needs_bf16 = pytest.mark.skipif(not cpu_bf16_flags(), reason="this CPU has no avx512_bf16 / "
                                                             "amx_bf16")


@needs_bf16
@pytest.mark.slow
def test_bf16_latency_and_accuracy_on_the_python_runner(trained_lab):
    lab = trained_lab
    r = run_latency(lab.settings, lab.fp32, "bf16", device="cpu", runner="python",
                    warmup=1, repeats=5, threads=1, data_file=lab.val)
    assert (r.precision, r.device, r.runner) == ("bf16", "cpu", "python")
    assert r.latency_ms.count == 5 and math.isfinite(r.latency_ms.p50)
    acc = {p: run_accuracy(lab.settings, lab.fp32, lab.val, p, device="cpu", runner="python",
                           batch_size=10, threads=1, limit=100)
           for p in ("fp32", "bf16")}
    assert acc["bf16"].precision == "bf16" and acc["bf16"].images == 100
    assert 0 < acc["bf16"].top1 <= acc["bf16"].top5 <= 1.0
    assert abs(acc["bf16"].top1 - acc["fp32"].top1) <= 0.05


@pytest.mark.slow
def test_bf16_on_the_quantized_model_is_refused(trained_lab):
    lab = trained_lab
    with pytest.raises(LabError, match="quantized"):
        run_latency(lab.settings, lab.int8, "bf16", device="cpu", runner="python",
                    warmup=1, repeats=1, threads=1)
