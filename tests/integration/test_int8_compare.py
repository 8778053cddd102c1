"""compare-layers and the NaN/Inf checks: pure parts, then the real engine on the trained lab."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from support.int8 import poison_with_nan
from toolchain.errors import LabError
from toolchain.int8.compare import (ComparedOp, ErrorSums, OpInfo, compare_layers,
                                    feeding_compared, quantized_ops)
from toolchain.int8.finite import check_finite, find_nonfinite


# --- pure ---------------------------------------------------------------------------------

def test_error_sums_over_batches_equal_the_error_of_the_whole_tensor():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((6, 4, 5))
    got = ref + rng.standard_normal(ref.shape) * 0.1
    sums = ErrorSums()
    for i in range(0, 6, 4):
        sums.add(ref[i:i + 4], got[i:i + 4])
    diff = (got - ref).ravel()
    assert sums.max_abs == pytest.approx(np.abs(diff).max())
    assert sums.relative == pytest.approx(np.linalg.norm(diff) / np.linalg.norm(ref))
    a, b = ref.ravel(), got.ravel()
    assert sums.cosine == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    same = ErrorSums()
    same.add(ref, ref)
    assert same.relative == 0 and same.cosine == pytest.approx(1.0)


def test_error_sums_refuse_tensors_of_different_sizes():
    with pytest.raises(LabError, match="differ in size"):
        ErrorSums().add(np.zeros(3), np.zeros(4))


# conv0 -> bn -> relu -> conv1 -> add(conv1, relu) -> fc; the INT8 program quantized
# conv0 and fc (their weights are dequantized) but not conv1, which reads a dequantized
# activation (PTQ's pair on the relu output) and its FP32 weight.
FP32_OPS = [OpInfo("conv2d", ("x", "w0"), ("c0",)), OpInfo("batch_norm", ("c0", "s", "b"),
            ("bn",)), OpInfo("relu", ("bn",), ("r",)), OpInfo("conv2d", ("r", "w1"), ("c1",)),
            OpInfo("elementwise_add", ("c1", "r"), ("a",)), OpInfo("matmul_v2", ("a", "w2"),
            ("logits",))]
WEIGHTS = {"w0", "w1", "w2", "s", "b"}
INT8_OPS = [OpInfo("quantize_linear", ("x",), ("x.q",)),
            OpInfo("dequantize_linear", ("x.q",), ("x.quantized.dequantized",)),
            OpInfo("dequantize_linear", ("w0",), ("w0.dequantized",)),
            OpInfo("conv2d", ("x.quantized.dequantized", "w0.dequantized"), ("c0",)),
            OpInfo("batch_norm", ("c0", "s", "b"), ("bn",)), OpInfo("relu", ("bn",), ("r",)),
            OpInfo("quantize_linear", ("r",), ("r.q",)),
            OpInfo("dequantize_linear", ("r.q",), ("r.quantized.dequantized",)),
            OpInfo("conv2d", ("r.quantized.dequantized", "w1"), ("c1",)),
            OpInfo("elementwise_add", ("c1", "r"), ("a",)),
            OpInfo("dequantize_linear", ("a.q",), ("a.quantized.dequantized",)),
            OpInfo("dequantize_linear", ("w2",), ("w2.quantized.dequantized",)),
            OpInfo("matmul_v2", ("a.quantized.dequantized", "w2.quantized.dequantized"),
                   ("logits",))]


def test_quantized_ops_are_matched_by_output_name_and_named_by_their_weight():
    assert quantized_ops(FP32_OPS, WEIGHTS, INT8_OPS) == [
        ComparedOp("conv2d", "c0", "w0"), ComparedOp("matmul_v2", "logits", "w2")]


def test_the_compared_tensors_feeding_an_op_are_found_through_other_ops():
    fed = feeding_compared(FP32_OPS, {"c0", "c1", "logits"}, WEIGHTS)
    assert fed == {"c0": set(), "c1": {"c0"}, "logits": {"c1", "c0"}}


def test_nonfinite_values_name_the_dataset_index_of_the_first_bad_image():
    batch = np.zeros((4, 3), dtype="float32")
    assert find_nonfinite(batch, 8) is None
    batch[2, 1], batch[3, 0], batch[3, 2] = np.nan, np.inf, -np.inf
    found = find_nonfinite(batch, first_image=8)
    assert (found.nan, found.inf, found.first_image) == (1, 2, 10)
    with pytest.raises(LabError) as err:
        check_finite(batch, "models/x/int8", first_image=8)
    assert "models/x/int8" in err.value.message and "image 10" in err.value.message
    assert "1 NaN and 2 Inf" in err.value.message
    assert find_nonfinite(np.arange(4)) is None          # integers are always finite


# --- real engine ------------------------------------------------------------------------

@pytest.mark.slow
def test_compare_layers_reports_every_quantized_op_of_the_trained_model(trained_lab):
    lab = trained_lab
    r = compare_layers(None, lab.int8, lab.val, images=12)
    assert r.fp32_dir == lab.fp32 and r.images == 12 and r.total_layers == 5
    assert sorted(x.op_type for x in r.layers) == ["conv2d"] * 4 + ["matmul_v2"]
    assert {x.weight for x in r.layers} == {"conv2d_0.w_0", "conv2d_1.w_0", "conv2d_2.w_0",
                                            "conv2d_3.w_0", "linear_0.w_0"}
    owns = [x.own for x in r.layers]
    assert owns == sorted(owns, reverse=True)
    for x in r.layers:       # a well quantized model: small errors, nothing broken
        assert 0 < x.relative < 0.2 and x.cosine > 0.98 and x.nonfinite == 0
        assert 0 <= x.own <= x.relative and math.isfinite(x.max_abs)
    assert 0 < r.output.relative < 0.2 and r.output.cosine > 0.98
    assert r.top1_agreement >= 0.9 and r.nonfinite == []


@pytest.mark.slow
def test_compare_layers_cli_json_top_k(trained_lab, invoke_cli):
    proc = invoke_cli("compare-layers", "--images", "4", "--top", "2", "--json",
                      env=trained_lab.env())
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert len(r["layers"]) == 2 and r["total_layers"] == 5 and r["images"] == 4
    assert set(r["layers"][0]) >= {"op_type", "output", "max_abs", "relative", "cosine",
                                   "own", "nonfinite"}
    table = invoke_cli("compare-layers", "--images", "4", env=trained_lab.env())
    assert table.returncode == 0, table.stderr
    assert "worst first" in table.stdout and "conv2d" in table.stdout


@pytest.mark.slow
def test_compare_layers_bad_input(trained_lab, tmp_path):
    lab = trained_lab
    alone = tmp_path / "alone_int8"
    shutil.copytree(lab.int8, alone)
    with pytest.raises(LabError, match="the FP32 twin of .* is missing"):
        compare_layers(None, alone, lab.val)
    with pytest.raises(LabError, match="not an INT8 model"):
        compare_layers(None, lab.fp32, lab.val)
    with pytest.raises(LabError, match="--fp32-dir must be the FP32 model"):
        compare_layers(lab.int8, lab.int8, lab.val)
    record = json.loads((alone / "lab_model.json").read_text())
    record["source_sha256"] = "0" * 64
    (alone / "lab_model.json").write_text(json.dumps(record))
    with pytest.raises(LabError, match="was not quantized from"):
        compare_layers(lab.fp32, alone, lab.val)
    with pytest.raises(LabError, match="dataset not found"):
        compare_layers(None, lab.int8, tmp_path / "none.bin")


@pytest.mark.slow
def test_run_and_test_acc_refuse_a_model_that_outputs_nan(trained_lab, invoke_cli, tmp_path):
    nan = tmp_path / "nan_model"
    poison_with_nan(trained_lab.fp32, nan)
    for task, batch in (("test-acc", "4"), ("run", "1")):
        proc = invoke_cli(task, "--batch-size", batch, "--model-dir", str(nan), "--runner",
                          "python", "--device", "cpu", env=trained_lab.env())
        assert proc.returncode == 1, proc.stdout
        assert f"{nan} produced {batch} NaN in the output (first at image 0)" in proc.stderr
        assert "Traceback" not in proc.stderr
