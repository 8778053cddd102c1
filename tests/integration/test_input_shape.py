"""A dataset whose image size does not fit the model's input: one clear error in run,
test-acc and quantize (python runner and the C++ demo path), before any engine starts.

The models are real Paddle models (tiny conv nets saved by paddle.jit.save in both
formats, static 32x32, static 224x224 and dynamic H/W); the dataset is a real
`preprocess_dataset` output. The C++ demo binaries are STAND-INS (shell scripts that
only leave a marker when started): the check must refuse before launching them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from support.data import photo
from toolchain.errors import LabError
from toolchain.models.inputs import (ModelInput, check_dataset_fits_model,
                                     check_images_fit_model, read_model_inputs,
                                     static_image_shape)
from toolchain.models.layout import ModelFiles, find_model_files

MAKE_MODELS = textwrap.dedent("""
    import os, sys
    import paddle
    out, names = sys.argv[1], sys.argv[2:]
    sizes = {"s32": 32, "s224": 224, "dyn": None}
    for name in names:
        paddle.seed(0)
        if name == "flat":      # a vector input, not a batch of images
            net = paddle.nn.Linear(192, 10)
            spec = [paddle.static.InputSpec([None, 192], "float32", "image")]
        else:
            net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3, stride=4),
                                       paddle.nn.AdaptiveAvgPool2D(1), paddle.nn.Flatten(),
                                       paddle.nn.Linear(4, 10))
            hw = sizes[name]
            spec = [paddle.static.InputSpec([None, 3, hw, hw], "float32", "image")]
        net.eval()
        paddle.jit.save(net, os.path.join(out, name, "model"), input_spec=spec)
""")

MISMATCH = "holds 3x224x224 images, but the model"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{"legacy": {s32, s224, dyn, flat}, "pir": {s32, dyn}} -> model dirs."""
    root = tmp_path_factory.mktemp("shape_models")
    script = root / "make_models.py"
    script.write_text(MAKE_MODELS)
    made = {}
    for fmt, flag, names in (("legacy", "0", ["s32", "s224", "dyn", "flat"]),
                             ("pir", "1", ["s32", "dyn"])):
        env = dict(os.environ, FLAGS_enable_pir_api=flag, GLOG_minloglevel="2")
        proc = subprocess.run([sys.executable, str(script), str(root / fmt), *names],
                              env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        made[fmt] = {n: root / fmt / n for n in names}
        for n in names:
            assert find_model_files(made[fmt][n]).format == fmt
    return made


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A real 3-image val.bin (+ sidecar) made by preprocess_dataset."""
    from toolchain.data.preprocess import preprocess_dataset

    root = tmp_path_factory.mktemp("shape_data")
    (root / "img").mkdir()
    lines = []
    for i in range(3):
        photo(300, 260, seed=i).save(root / "img" / f"{i}.jpg", quality=90)
        lines.append(f"{i}.jpg {i}\n")
    (root / "img" / "val_list.txt").write_text("".join(lines))
    out = root / "val.bin"
    preprocess_dataset(root / "img", None, out, jobs=1)
    return out


def _assert_clean_mismatch(proc, model_dir, source="dataset"):
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    err = proc.stderr
    assert "Traceback" not in err and "Traceback" not in proc.stdout
    assert err.count("error:") == 1, err
    assert f"{source}" in err and "3x224x224 images" in err, err
    assert f"the model {model_dir} takes 3x32x32 images" in err, err
    assert "input 'image' has shape [-1, 3, 32, 32]" in err, err
    assert "fix:" in err and "dynamic height and width" in err, err


# --- reading the feed shapes --------------------------------------------------------

def test_legacy_feed_shapes_equal_paddles_own_protobuf_reading(models):
    from paddle.base.proto import framework_pb2

    for name, model_dir in models["legacy"].items():
        files = find_model_files(model_dir)
        desc = framework_pb2.ProgramDesc()
        desc.ParseFromString(files.program.read_bytes())
        block = desc.blocks[0]
        feeds = sorted((next(a.i for a in op.attrs if a.name == "col"), op.outputs[0].arguments[0])
                       for op in block.ops if op.type == "feed")
        dense = next(f.name for f in framework_pb2.VarType.DESCRIPTOR.fields if f.number == 3)
        dims = {v.name: tuple(getattr(v.type, dense).tensor.dims) for v in block.vars}
        expected = [ModelInput(n, dims[n]) for _, n in feeds]
        assert read_model_inputs(files) == expected, name
        assert expected and expected[0].name == "image"


def test_shapes_of_both_formats(models):
    for fmt in ("legacy", "pir"):
        s32 = find_model_files(models[fmt]["s32"])
        dyn = find_model_files(models[fmt]["dyn"])
        assert read_model_inputs(s32) == [ModelInput("image", (-1, 3, 32, 32))], fmt
        assert read_model_inputs(dyn) == [ModelInput("image", (-1, 3, -1, -1))], fmt
        assert static_image_shape(s32) == (3, 32, 32)
        assert static_image_shape(dyn) is None
    assert static_image_shape(find_model_files(models["legacy"]["s224"])) == (3, 224, 224)


def test_unreadable_program_is_not_checked(tmp_path):
    for fmt, name, data in (("legacy", "model.pdmodel", b"\x0a\xff\xff\xff"),
                            ("pir", "model.json", b"{not json")):
        (tmp_path / name).write_bytes(data)
        files = ModelFiles(tmp_path, fmt, tmp_path / name, tmp_path / "model.pdiparams")
        assert read_model_inputs(files) is None
        check_images_fit_model(files, (3, 224, 224), "dataset x")    # no error: not known


# --- the check ----------------------------------------------------------------------

def test_check_passes_matching_and_dynamic_models(models, dataset):
    for model_dir in (models["legacy"]["s224"], models["legacy"]["dyn"], models["pir"]["dyn"]):
        check_dataset_fits_model(find_model_files(model_dir), dataset)


def test_check_refuses_a_fixed_other_size(models, dataset):
    for fmt in ("legacy", "pir"):
        files = find_model_files(models[fmt]["s32"])
        with pytest.raises(LabError) as info:
            check_dataset_fits_model(files, dataset)
        err = info.value
        assert f"dataset {dataset} holds 3x224x224 images" in err.message
        assert f"the model {files.dir} takes 3x32x32 images" in err.message
        assert err.where == str(files.program)
        assert "[-1, 3, 224, 224]" in err.hint and "invoke models --export" in err.hint
    # a channel count or an input rank that differs is refused the same way
    dyn = find_model_files(models["legacy"]["dyn"])
    with pytest.raises(LabError, match=r"holds 1x224x224 images, .* takes 3x\?x\? images"):
        check_images_fit_model(dyn, (1, 224, 224), "dataset g")
    flat = find_model_files(models["legacy"]["flat"])
    assert read_model_inputs(flat) == [ModelInput("image", (-1, 192))]
    assert static_image_shape(flat) is None
    with pytest.raises(LabError, match=r"takes no batch of CHW images: .* \[-1, 192\]"):
        check_dataset_fits_model(flat, dataset)


def test_models_compared_side_by_side_must_take_the_same_input(models):
    from toolchain.models.inputs import check_same_inputs

    legacy = models["legacy"]
    same = {"a": find_model_files(legacy["s224"]), "b": find_model_files(legacy["s224"])}
    check_same_inputs(same)
    with pytest.raises(LabError, match=r"different inputs.*'image' \[-1, 3, 224, 224\].*"
                                       r"'image' \[-1, 3, -1, -1\]") as err:
        check_same_inputs({"fp32": find_model_files(legacy["s224"]),
                           "int8": find_model_files(legacy["dyn"])})
    assert "invoke quantize" in err.value.hint


# --- through the real CLI ------------------------------------------------------------

def test_bench_refuses_fp32_and_int8_models_with_different_inputs(models, invoke_cli,
                                                                   tmp_path):
    import shutil

    pair = tmp_path / "pair"
    shutil.copytree(models["legacy"]["s224"], pair / "fp32")
    shutil.copytree(models["legacy"]["s32"], pair / "int8")
    proc = invoke_cli("bench", "--models", str(pair), "--out", str(tmp_path / "out"),
                      timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "take different inputs" in proc.stderr and "[-1, 3, 32, 32]" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_run_and_test_acc_python_runner_say_it_cleanly(models, dataset, invoke_cli, lab_env):
    for fmt in ("legacy", "pir"):
        mdir = models[fmt]["s32"]
        proc = invoke_cli("run", "--model-dir", str(mdir), "--data-file", str(dataset),
                          "--runner", "python", "--repeats", "2", "--warmup", "0", timeout=300)
        _assert_clean_mismatch(proc, mdir)
        proc = invoke_cli("test-acc", "--model-dir", str(mdir), "--data-file", str(dataset),
                          "--runner", "python", timeout=300)
        _assert_clean_mismatch(proc, mdir)


def test_quantize_says_it_cleanly_and_writes_nothing(models, dataset, invoke_cli, lab_env,
                                                     tmp_path):
    mdir = models["legacy"]["s32"]
    out = tmp_path / "q" / "int8"
    proc = invoke_cli("quantize", "--model-dir", str(mdir), "--calib-data", str(dataset),
                      "--out", str(out), "--batch-size", "1", "--batch-nums", "1",
                      timeout=300)
    _assert_clean_mismatch(proc, mdir)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_dynamic_model_runs_scores_and_quantizes(models, dataset, invoke_cli, lab_env, tmp_path):
    mdir = models["legacy"]["dyn"]
    proc = invoke_cli("run", "--model-dir", str(mdir), "--data-file", str(dataset),
                      "--runner", "python", "--repeats", "2", "--warmup", "0", "--hot", "--json",
                      timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["first_batch"]["labels"] == [0]   # --hot: the first image
    proc = invoke_cli("test-acc", "--model-dir", str(mdir), "--data-file", str(dataset),
                      "--runner", "python", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["images"] == 3
    out = tmp_path / "int8"
    proc = invoke_cli("quantize", "--model-dir", str(mdir), "--calib-data", str(dataset),
                      "--out", str(out), "--batch-size", "1", "--batch-nums", "2",
                      "--algo", "abs_max", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    # a quantized program (quantize/dequantize ops added) is read the same way
    assert read_model_inputs(find_model_files(out)) == [ModelInput("image", (-1, 3, -1, -1))]


def test_python_runner_without_dataset_feeds_the_models_own_size(models, invoke_cli, lab_env):
    proc = invoke_cli("run", "--model-dir", str(models["legacy"]["s32"]), "--runner", "python",
                      "--repeats", "2", "--warmup", "0", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["repeats"] == 2


@pytest.fixture
def standin_demo(lab_env, tmp_path):
    """A demo build record whose binaries are STAND-IN scripts that only leave a marker."""
    from toolchain.settings import LabSettings
    from toolchain.state import save_demo_build, set_current_library

    settings = LabSettings.from_mapping({"work_dir": lab_env["INVOKE_LAB_WORK_DIR"],
                                         "lib_dir": lab_env["INVOKE_LAB_LIB_DIR"]})
    lib = tmp_path / "standin_lib"
    lib.mkdir()
    marker = tmp_path / "demo-started"
    bins = {}
    for program in ("trt_clas", "test_acc"):
        script = tmp_path / program
        script.write_text(f"#!/bin/sh\ntouch {marker}\nexit 3\n")
        script.chmod(0o755)
        bins[program] = str(script)
    set_current_library(settings.lib_dir, lib, "standin", "manual")
    save_demo_build(settings.work_dir, {"lib": str(lib.resolve()), "gpu": False, "paddle_api": "3.x",
                               "binaries": bins, "built_at": "test", "cmake_args": []})
    return marker


def test_cpp_runner_is_refused_before_the_demo_starts(models, dataset, invoke_cli,
                                                      standin_demo):
    mdir = models["legacy"]["s32"]
    for task in ("run", "test-acc"):
        proc = invoke_cli(task, "--model-dir", str(mdir), "--data-file", str(dataset),
                          "--runner", "cpp", "--device", "cpu", timeout=120)
        _assert_clean_mismatch(proc, mdir)
    proc = invoke_cli("run", "--model-dir", str(mdir), "--runner", "cpp", "--device", "cpu",
                      timeout=120)     # no dataset: the demo's own input is 3x224x224 too
    _assert_clean_mismatch(proc, mdir, source="the C++ demo's seeded input")
    assert not standin_demo.exists()
    # a model that fits does reach the (stand-in) demo
    proc = invoke_cli("run", "--model-dir", str(models["legacy"]["dyn"]), "--data-file",
                      str(dataset), "--runner", "cpp", "--device", "cpu", timeout=120)
    assert proc.returncode == 1 and standin_demo.exists(), proc.stderr
    assert "trt_clas failed (exit 3)" in proc.stderr
