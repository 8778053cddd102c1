"""build-demo's pure core: the plan (cmake flags, build folder) and the ldd reader."""

from __future__ import annotations

import shlex
from pathlib import Path

from toolchain.build_demo import DemoBuildRequest, explain, parse_ldd, plan_demo_build
from toolchain.build_demo.plan import header_api

# Real ldd output of a demo binary on this machine, plus the two failure forms
# ldd prints (a missing library; a libstdc++ too old for the binary).
LDD_OK = """\
\tlinux-vdso.so.1 (0x00007ffd4e5f2000)
\tlibpaddle_inference.so => /opt/pi/paddle/lib/libpaddle_inference.so (0x00007f2ff5dd3000)
\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f2ff5a00000)
\tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f2ff5daa000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2ff581e000)
\tlibcommon.so => /opt/pi/paddle/lib/libcommon.so (0x00007f2ff5da1000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f2ff5e16000)
"""
LDD_BAD = """\
./trt_clas: /lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by /opt/pi/paddle/lib/libpaddle_inference.so)
\tlinux-vdso.so.1 (0x00007ffd4e5f2000)
\tlibpaddle_inference.so => /opt/pi/paddle/lib/libpaddle_inference.so (0x00007f2ff5dd3000)
\tlibdnnl.so.3 => not found
\tlibnvinfer.so.8 => not found
\tlibcudart.so.11.0 => not found
\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f2ff5a00000)
"""


def test_parse_ldd_resolved():
    entries = parse_ldd(LDD_OK)
    names = [e.name for e in entries]
    assert names == ["linux-vdso.so.1", "libpaddle_inference.so", "libstdc++.so.6",
                     "libgcc_s.so.1", "libc.so.6", "libcommon.so", "ld-linux-x86-64.so.2"]
    assert all(e.problem is None for e in entries)
    assert entries[1].path == "/opt/pi/paddle/lib/libpaddle_inference.so"


def test_parse_ldd_unresolved_and_explained():
    bad = {e.name: e for e in parse_ldd(LDD_BAD) if e.problem}
    assert set(bad) == {"libstdc++.so.6", "libdnnl.so.3", "libnvinfer.so.8", "libcudart.so.11.0"}
    assert "GLIBCXX_3.4.32" in bad["libstdc++.so.6"].problem
    assert bad["libdnnl.so.3"].problem == "not found"
    assert "oneDNN" in explain("libdnnl.so.3")[0]
    assert "--trt-root" in explain("libnvinfer.so.8")[1]
    assert "--cuda-root" in explain("libcudart.so.11.0")[1]
    assert "gcc" in explain("libstdc++.so.6")[1]
    assert "build-demo --clean" in explain("libpaddle_fluid.so")[1]
    assert "iomp" not in explain("libsomething_else.so")[0]


def _lib(tmp_path: Path, api: str = "2.x") -> Path:
    inc = tmp_path / "lib" / "paddle" / "include"
    inc.mkdir(parents=True)
    body = "namespace paddle_infer {}" if api == "2.x" else "namespace paddle {}"
    (inc / "paddle_inference_api.h").write_text(body)
    return tmp_path / "lib"


def test_plan_cpu_from_version_txt(tmp_path):
    lib = _lib(tmp_path)
    plan = plan_demo_build(tmp_path / "work", DemoBuildRequest(lib=lib), lib_with_gpu=False,
                           lib_with_tensorrt=None, ninja_available=True)
    assert not plan.gpu and not plan.with_tensorrt and plan.generator == "Ninja"
    assert plan.cmake_args == [f"-DPADDLE_LIB={lib.resolve()}", "-DCMAKE_BUILD_TYPE=Release",
                               "-DWITH_GPU=OFF", "-DWITH_TENSORRT=OFF"]
    assert plan.build_dir.parent == tmp_path / "work" / "demo"
    assert plan.build_dir.name.startswith("build-")
    assert plan.configure[:3] == ["cmake", "-S", str(plan.source_dir)]
    assert plan.binaries["trt_clas"] == plan.build_dir / "trt_clas"
    assert plan.paddle_api == "2.x"
    assert any("WITH_GPU: OFF" in n for n in plan.notes)


def test_plan_gpu_tensorrt_and_build_dir_per_configuration(tmp_path):
    lib = _lib(tmp_path, api="1.x")
    cpu = plan_demo_build(tmp_path, DemoBuildRequest(lib=lib, gpu=False), True, True, False)
    gpu = plan_demo_build(tmp_path, DemoBuildRequest(lib=lib, trt_root="/opt/TensorRT 8",
                                                     cuda_root="/usr/local/cuda-11.8"),
                          lib_with_gpu=True, lib_with_tensorrt=True, ninja_available=False)
    assert gpu.gpu and gpu.with_tensorrt and gpu.generator == "Unix Makefiles"
    assert "-DTENSORRT_ROOT=/opt/TensorRT 8" in gpu.cmake_args
    assert "-DCUDA_ROOT=/usr/local/cuda-11.8" in gpu.cmake_args
    assert not cpu.gpu and "-DWITH_TENSORRT=OFF" in cpu.cmake_args
    assert cpu.build_dir != gpu.build_dir           # one folder per configuration
    again = plan_demo_build(tmp_path, DemoBuildRequest(lib=lib, gpu=False), True, True, False)
    assert again.build_dir == cpu.build_dir         # stable
    assert gpu.paddle_api == "1.x"
    # the script is valid shell with the space in the path quoted
    script = gpu.script()
    line = next(ln for ln in script.splitlines() if ln.startswith("cmake -S"))
    assert shlex.split(line) == gpu.configure
    # a GPU library without TensorRT and no --trt-root: GPU build without TRT, said so
    plain = plan_demo_build(tmp_path, DemoBuildRequest(lib=lib), True, None, True)
    assert plain.gpu and not plain.with_tensorrt
    assert any("no TensorRT" in n for n in plain.notes)


def test_header_api(tmp_path):
    assert header_api(_lib(tmp_path / "a") / "paddle" / "include") == "2.x"
    assert header_api(_lib(tmp_path / "b", "1.x") / "paddle" / "include") == "1.x"


def test_clean_removes_only_build_folders(tmp_path):
    import pytest

    from toolchain.build_demo.run import _clean
    from toolchain.errors import LabError

    build = tmp_path / "build"
    (build / "CMakeFiles").mkdir(parents=True)
    (build / "CMakeCache.txt").write_text("# cache")
    _clean(build)
    assert not build.exists()
    _clean(tmp_path / "missing")                     # nothing to do
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(LabError, match="not a CMake build folder"):
        _clean(other)
    assert (other / "keep.txt").exists()
