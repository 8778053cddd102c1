"""toolchain.library.installed: version.txt in every published format, both layouts."""

from __future__ import annotations

import pytest

from toolchain.errors import LabError
from toolchain.library.installed import (inspect_library, parse_version_txt, validate_library,
                               version_mismatches)

# Verbatim examples from the official docs (paddle_lib_notes.md §6.2).
FIRST_2018 = """GIT COMMIT ID: ebefdbe372e6d1a87a9eae691d579156c1ce6680
WITH_MKL: ON
WITH_GPU: ON
CUDA version: 8.0
CUDNN version: v7
"""
DEMO_V18 = """GIT COMMIT ID: 06897f7c4ee41295e6e9a0af2a68800a27804f6c
WITH_MKL: ON         # 是否带MKL
WITH_MKLDNN: OFF     # 是否带MKLDNN
WITH_GPU: ON         # 是否支持GPU
CUDA version: 10.1   # CUDA的版本
CUDNN version: v7。  # CUDNN版本
WITH_TENSORRT: ON    # 是否带TRT
"""
POST_24551 = """GIT COMMIT ID: 1bf4836580951b6fd50495339a7a75b77bf539f6
WITH_MKL: ON
WITH_MKLDNN: ON
WITH_GPU: ON
CUDA version: 9.0
CUDNN version: v7.6
CXX compiler version: 4.8.5
WITH_TENSORRT: ON
TensorRT version: v6
"""
V24 = """GIT COMMIT ID: 47fa64004362b1d7d63048016911e62dc1d84f45
WITH_MKL: ON
WITH_MKLDNN: ON
WITH_GPU: ON
WITH_ROCM: OFF
WITH_ASCEND_CL: OFF
WITH_ASCEND_CXX11: OFF
WITH_IPU: OFF
CUDA version: 11.2
CUDNN version: v8.2
CXX compiler version: 8.2.0
WITH_TENSORRT: ON
TensorRT version: v8.2.4.2
"""
# The 3.x template (cmake/version.cmake): Paddle version first, WITH_ONEDNN.
V3 = """Paddle version: 3.0.0
GIT COMMIT ID: cbf3469113cd76b7d5f4cba7b8d7d5f55d9e9911
WITH_MKL: ON
WITH_ONEDNN: ON
WITH_OPENVINO: OFF
WITH_GPU: ON
WITH_ROCM: OFF
WITH_IPU: OFF
CUDA version: 12.6
cuDNN version: v9.5
CXX compiler version: 11.2.0
WITH_TENSORRT: ON
TensorRT version: v10.5.0.18
"""
CPU_3X = """Paddle version: 3.2.1
GIT COMMIT ID: abc
WITH_MKL: ON
WITH_ONEDNN: ON
WITH_GPU: OFF
CXX compiler version: 8.2.0
"""


def test_first_format_2018():
    v = parse_version_txt(FIRST_2018)
    assert (v.git_commit, v.with_mkl, v.with_gpu, v.cuda_version, v.cudnn_version) == (
        "ebefdbe372e6d1a87a9eae691d579156c1ce6680", True, True, "8.0", "7")
    assert v.with_onednn is None and v.tensorrt_version is None and v.paddle_version is None


def test_demo_example_with_comments_and_chinese_full_stop():
    v = parse_version_txt(DEMO_V18)
    assert v.with_onednn is False and v.with_tensorrt is True
    assert v.cuda_version == "10.1" and v.cudnn_version == "7"
    assert v.raw["WITH_MKLDNN"] == "OFF"


def test_post_24551_format():
    v = parse_version_txt(POST_24551)
    assert (v.cudnn_version, v.cxx_compiler_version, v.tensorrt_version) == ("7.6", "4.8.5", "6")


def test_24_format_with_ascend_flags():
    v = parse_version_txt(V24)
    assert (v.cuda_version, v.cudnn_version, v.tensorrt_version) == ("11.2", "8.2", "8.2.4.2")
    assert v.raw["WITH_ASCEND_CL"] == "OFF"


def test_3x_format_paddle_version_onednn_lowercase_cudnn():
    v = parse_version_txt(V3)
    assert v.paddle_version == "3.0.0" and v.with_onednn is True
    assert (v.cudnn_version, v.tensorrt_version, v.cxx_compiler_version) == (
        "9.5", "10.5.0.18", "11.2.0")


def test_cpu_build_has_no_gpu_fields():
    v = parse_version_txt(CPU_3X)
    assert v.with_gpu is False and v.cuda_version is None and v.with_tensorrt is None


# Real version.txt contents pasted in public docs/READMEs (tests/fixtures/probe/public/README.md).
@pytest.mark.parametrize("name, expected", [
    # 1.x Windows build: MSVC version as the CXX compiler, no TensorRT line.
    ("paddle-version-1.x-windows-msvc.txt",
     dict(paddle_version=None, git_commit="264e76cae6861ad9b1d4bcd8c3212f7a78c01e4d",
          with_onednn=True, with_gpu=True, with_tensorrt=None, cuda_version="10.0",
          cudnn_version="7.4", tensorrt_version=None, cxx_compiler_version="19.0.24215.1")),
    ("paddle-version-2.x-docs-trt8.5.txt",
     dict(paddle_version=None, git_commit="47fa64004362b1d7d63048016911e62dc1d84f45",
          with_onednn=True, with_gpu=True, with_tensorrt=True, cuda_version="11.8",
          cudnn_version="8.6", tensorrt_version="8.5.1.7", cxx_compiler_version="8.2.0")),
    # The 3.x template as shipped (Windows GPU lib, PaddlePaddle/Paddle#71032).
    ("paddle-version-3.0.0-rc0-windows-gpu.txt",
     dict(paddle_version="3.0.0-rc0", git_commit="791e99fc54c36151b9e5f1245e0fc8ae5d8a282b",
          with_mkl=True, with_onednn=True, with_gpu=True, with_tensorrt=True,
          cuda_version="12.0", cudnn_version="8.9", tensorrt_version="8.6.1.6",
          cxx_compiler_version="19.29.30154.0")),
    # Paddle-Inference-Demo master docs: hand-added OpenVINO lines are kept in raw only.
    ("paddle-version-demo-master-openvino.txt",
     dict(paddle_version=None, with_onednn=True, with_tensorrt=True, cuda_version="9.0",
          cudnn_version="7.6", tensorrt_version="6", cxx_compiler_version="4.8.5")),
    # 3.0.0-beta1 Windows lib as quoted in a README: blank lines between, no GIT COMMIT line.
    ("paddle-version-3.0.0-beta1-windows-excerpt.txt",
     dict(paddle_version="3.0.0-beta1", git_commit=None, with_onednn=None, with_gpu=None,
          with_tensorrt=True, cuda_version="12.0", cudnn_version="8.9",
          tensorrt_version="8.6.1.6", cxx_compiler_version="19.29.30154.0")),
])
def test_public_version_txt_samples(name, expected):
    from support import FIXTURES

    v = parse_version_txt((FIXTURES / "probe" / "public" / name).read_text(encoding="utf-8"))
    assert {key: getattr(v, key) for key in expected} == expected


def test_version_mismatches_compare_by_common_prefix():
    v = parse_version_txt(V24)
    assert version_mismatches(v, "11.2", "8.2.1", "8.2") == []
    assert version_mismatches(v, "11.2", "8", "8") == []
    out = version_mismatches(v, "10.2", "7.6.5", None)
    assert any("CUDA: expected 10.2" in m for m in out)
    assert any("cuDNN: expected 7.6.5" in m for m in out)
    assert version_mismatches(parse_version_txt(CPU_3X), "11.8", None, None) == [
        "CUDA: expected 11.8, version.txt states none"]


def _tree(root, lib="libpaddle_inference", version=V24):
    (root / "paddle" / "include").mkdir(parents=True)
    (root / "paddle" / "lib").mkdir(parents=True)
    (root / "third_party" / "install" / "mklml").mkdir(parents=True)
    (root / "third_party" / "install" / "onednn").mkdir(parents=True)
    (root / "paddle" / "include" / "paddle_inference_api.h").write_text("//\n")
    (root / "paddle" / "lib" / f"{lib}.so").write_bytes(b"\x7fELF")
    (root / "version.txt").write_text(version)
    return root


def test_inspect_2x_layout_through_wrapper_dir(tmp_path):
    _tree(tmp_path / "paddle_inference")
    found = inspect_library(tmp_path)
    assert found.ok and found.family == "paddle_inference"
    assert found.path == tmp_path / "paddle_inference"
    assert found.main_lib.name == "libpaddle_inference.so"
    assert found.third_party == ["mklml", "onednn"]
    assert found.version.tensorrt_version == "8.2.4.2"


def test_inspect_1x_fluid_layout(tmp_path):
    _tree(tmp_path, lib="libpaddle_fluid", version=FIRST_2018)
    found = validate_library(tmp_path)
    assert found.family == "fluid_inference" and found.version.cuda_version == "8.0"


def test_validate_lists_everything_missing(tmp_path):
    (tmp_path / "paddle" / "lib").mkdir(parents=True)
    with pytest.raises(LabError) as err:
        validate_library(tmp_path)
    msg = err.value.message
    assert "paddle_inference_api.h" in msg and "libpaddle_inference.so" in msg
    assert "version.txt" in msg and err.value.where == str(tmp_path)
