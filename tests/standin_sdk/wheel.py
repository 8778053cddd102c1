"""The REAL Paddle Inference engine for the C++ demo, from the installed paddlepaddle wheel.

The wheel ships no inference headers and no libpaddle_inference.so, but its Python
extension paddle/base/libpaddle.so is the whole framework and exports the C++
inference API (paddle_infer::CreatePredictor, paddle::AnalysisConfig::SetModel,
paddle_infer::Tensor::CopyFromCpu<float>, ...). `build_wheel_sdk(dest)` makes an
installed-library-shaped tree from it:

- paddle/include/: declarations of ours (include_wheel/) for the API subset the
  demo uses, each checked here against the library's exported symbols; the
  config object is opaque (the real constructor fills an oversized buffer), and
  Tensor/Predictor are only used through the library's pointers. One known
  consequence: a Tensor handle's own members are not destroyed when the demo
  drops it (two handles per run: a few bytes).
- paddle/lib/libpaddle_inference.so: a GNU ld linker script naming libpaddle.so and
  libpython3.X.so (libpaddle.so is a Python extension and needs libpython's symbols;
  Python is never initialised, the inference API does not use it), both symlinked
  into paddle/lib; paddle/libs links to the wheel's libs/ (libphi, libcommon,
  libdnnl, libiomp5 ...), where libpaddle.so's RUNPATH $ORIGIN/../libs looks;
- version.txt: `Paddle version:` of the wheel, WITH_GPU from the wheel.

So the demo compiles unchanged and runs the real Paddle engine (CPU here), the very
binary the Python `paddle.inference` API of the same wheel runs: the right baseline
for benchmarks/demo_overhead.py and for comparing outputs with Python.

    from standin_sdk.wheel import build_wheel_sdk, wheel_sdk_unavailable
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Mangled-name fragments (demangled) that must be exported for the declarations
# of include_wheel/ to be true.
REQUIRED_SYMBOLS = (
    "paddle_infer::CreatePredictor(paddle::AnalysisConfig const&)",
    "paddle::AnalysisConfig::AnalysisConfig()",
    "paddle::AnalysisConfig::~AnalysisConfig()",
    "paddle::AnalysisConfig::SetModel(std::__cxx11::basic_string<char, std::char_traits<char>, "
    "std::allocator<char> > const&, std::__cxx11::basic_string<char, std::char_traits<char>, "
    "std::allocator<char> > const&)",
    "paddle::AnalysisConfig::DisableGpu()",
    "paddle::AnalysisConfig::SetCpuMathLibraryNumThreads(int)",
    "paddle::AnalysisConfig::EnableMKLDNN()",
    "paddle::AnalysisConfig::SwitchIrOptim(int)",
    "paddle::AnalysisConfig::DisableGlogInfo()",
    "paddle::AnalysisConfig::EnableTensorRtEngine(long, int, int, "
    "paddle::AnalysisConfig::Precision, bool, bool, bool)",
    "paddle_infer::Predictor::GetInputHandle(",
    "paddle_infer::Predictor::GetOutputHandle(",
    "paddle_infer::Predictor::Run()",
    "paddle_infer::Tensor::Reshape(std::vector<int, std::allocator<int> > const&)",
    "void paddle_infer::Tensor::CopyFromCpu<float>(float const*)",
    "void paddle_infer::Tensor::CopyToCpu<float>(float*) const",
    "paddle_infer::Tensor::shape() const",
    "paddle::AnalysisConfig::AnalysisConfig(paddle::AnalysisConfig const&)",
    "paddle::AnalysisConfig::SetModel(std::__cxx11::basic_string<char, std::char_traits<char>, "
    "std::allocator<char> > const&)",
    "paddle::AnalysisConfig::EnableUseGpu(unsigned long, int, paddle::AnalysisConfig::Precision)",
    "paddle::AnalysisConfig::SetOptimCacheDir(",
    "paddle::AnalysisConfig::EnableNewIR(bool)",
    "paddle::AnalysisConfig::EnableONEDNN()",
    "paddle::AnalysisConfig::DisableMKLDNN()",
    "paddle::AnalysisConfig::EnableMkldnnInt8(",
    "paddle::AnalysisConfig::EnableOnednnInt8(",
    "paddle_infer::GetVersion",
    "paddle_infer::Predictor::GetInputNames",
    "paddle_infer::Predictor::GetOutputNames",
)


def _wheel_dir() -> Path | None:
    spec = importlib.util.find_spec("paddle")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _libpython() -> Path | None:
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    name = sysconfig.get_config_var("LDLIBRARY") or ""
    for candidate in (Path(libdir) / name,
                      Path(libdir) / f"libpython{sysconfig.get_python_version()}.so"):
        if candidate.name.endswith(".so") or ".so." in candidate.name:
            if candidate.exists():
                return candidate.resolve()
    return None


def wheel_sdk_unavailable() -> str | None:
    """Why the wheel-backed SDK cannot be built here, or None when it can."""
    wheel = _wheel_dir()
    if wheel is None:
        return "the paddlepaddle wheel is not installed"
    lib = wheel / "base" / "libpaddle.so"
    if not lib.is_file():
        return f"{lib} does not exist"
    if _libpython() is None:
        return "no shared libpython (libpython3.X.so) to satisfy libpaddle.so"
    if shutil.which("nm") is None:
        return "nm is not installed"
    syms = subprocess.run(["nm", "-DC", "--defined-only", str(lib)], capture_output=True,
                          text=True, timeout=300).stdout
    missing = [s for s in REQUIRED_SYMBOLS if s not in syms]
    if missing:
        return f"{lib} does not export: {'; '.join(missing)}"
    return None


def _wheel_version(wheel: Path) -> str:
    text = (wheel / "version" / "__init__.py").read_text(errors="replace")
    m = re.search(r"^full_version\s*=\s*['\"]([^'\"]+)", text, re.M)
    return m.group(1) if m else "unknown"


def _wheel_with_gpu(wheel: Path) -> bool:
    text = (wheel / "version" / "__init__.py").read_text(errors="replace")
    m = re.search(r"^cuda_version\s*=\s*['\"]([^'\"]+)", text, re.M)
    return bool(m and m.group(1) not in ("False", "", "None"))


def build_wheel_sdk(dest: Path) -> Path:
    """Make the tree in `dest` (atomically); RuntimeError with the reason if impossible."""
    reason = wheel_sdk_unavailable()
    if reason:
        raise RuntimeError(reason)
    wheel = _wheel_dir()
    assert wheel is not None
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        inc, lib = tmp / "paddle" / "include", tmp / "paddle" / "lib"
        inc.mkdir(parents=True)
        lib.mkdir(parents=True)
        for h in (HERE / "include_wheel").glob("*.h"):
            shutil.copy2(h, inc / h.name)
        # Symlinks, so that the demo's RPATH (paddle/lib, third_party/install/*/lib)
        # finds libpaddle.so, libpython and the wheel's own libs (libphi, libdnnl ...).
        libpython = _libpython()
        assert libpython is not None
        (lib / "libpaddle.so").symlink_to((wheel / "base" / "libpaddle.so").resolve())
        (lib / libpython.name).symlink_to(libpython)
        # libpaddle.so finds libphi, libdnnl ... through its own RUNPATH $ORIGIN/../libs
        # (a DT_RUNPATH wins over the executable's RPATH for an object's own needs).
        (tmp / "paddle" / "libs").symlink_to((wheel / "libs").resolve())
        (lib / "libpaddle_inference.so").write_text(
            "/* GNU ld script: the paddlepaddle wheel's engine + the libpython it needs */\n"
            f"INPUT({dest / 'paddle' / 'lib' / 'libpaddle.so'} "
            f"{dest / 'paddle' / 'lib' / libpython.name})\n")
        # No "CXX compiler version": the wheel does not say; the demo's CMake reads the
        # C++ ABI from libpaddle.so's symbols through the linker script.
        (tmp / "version.txt").write_text(
            f"Paddle version: {_wheel_version(wheel)}\n"
            "GIT COMMIT ID: (paddlepaddle wheel)\nWITH_MKL: ON\nWITH_ONEDNN: ON\n"
            f"WITH_GPU: {'ON' if _wheel_with_gpu(wheel) else 'OFF'}\n")
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def python_config(demo_json: dict):
    """The `paddle.inference.Config` the demo used, rebuilt from its JSON line's
    `config_calls` (each C++ call mapped to its Python twin), for comparisons with
    the Python API on exactly the same configuration."""
    from paddle import inference

    config = inference.Config(demo_json["model_file"], demo_json["params_file"])
    precisions = {"fp32": inference.PrecisionType.Float32, "fp16": inference.PrecisionType.Half,
                  "int8": inference.PrecisionType.Int8}
    for call in demo_json["config_calls"]:
        name, _, rest = call.partition("(")
        args = [a.strip() for a in rest.rstrip(")").split(",")] if rest.rstrip(")") else []
        if name in ("SetModel", "CreatePredictor", "CreatePaddlePredictor"):
            continue
        if name == "EnableTensorRtEngine":
            ws, mb, ms, prec, static, calib = args[:6]
            config.enable_tensorrt_engine(
                workspace_size=int(ws), max_batch_size=int(mb), min_subgraph_size=int(ms),
                precision_mode=precisions[prec], use_static=static == "1",
                use_calib_mode=calib == "1")
            continue
        python_name = {
            "EnableNewIR": "enable_new_ir", "DisableGpu": "disable_gpu",
            "SetCpuMathLibraryNumThreads": "set_cpu_math_library_num_threads",
            "EnableMKLDNN": "enable_mkldnn", "EnableONEDNN": "enable_onednn",
            "DisableMKLDNN": "disable_mkldnn", "EnableMkldnnInt8": "enable_mkldnn_int8",
            "EnableOnednnInt8": "enable_onednn_int8", "SwitchIrOptim": "switch_ir_optim",
            "DisableGlogInfo": "disable_glog_info", "EnableUseGpu": "enable_use_gpu",
            "SetOptimCacheDir": "set_optim_cache_dir",
        }[name]
        values = []
        for a in args:
            values.append(int(a) if re.fullmatch(r"-?\d+", a) else a)
        if name in ("EnableNewIR", "SwitchIrOptim"):
            values = [bool(v) for v in values]
        getattr(config, python_name)(*values)
    return config


def export_test_model(model_dir: Path, legacy: bool = False) -> Path:
    """A real Paddle inference model to run through the real engine: MobileNetV1
    x0.25 with random weights (seed 0, no download), exported with paddle.jit.save
    in a subprocess. legacy=False: 3.x PIR (inference.json + .pdiparams);
    legacy=True: inference.pdmodel + .pdiparams (FLAGS_enable_pir_api=0)."""
    import sys

    model_dir = Path(model_dir)
    code = (
        "import sys, paddle\n"
        "paddle.seed(0)\n"
        "from paddle.vision.models import mobilenet_v1\n"
        "m = mobilenet_v1(scale=0.25, num_classes=1000)\n"
        "m.eval()\n"
        "spec = [paddle.static.InputSpec([None, 3, 224, 224], 'float32', 'x')]\n"
        "paddle.jit.save(m, sys.argv[1] + '/inference', input_spec=spec)\n")
    env = dict(os.environ)
    if legacy:
        env["FLAGS_enable_pir_api"] = "0"
    proc = subprocess.run([sys.executable, "-c", code, str(model_dir)], capture_output=True,
                          text=True, timeout=600, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"model export failed:\n{proc.stderr[-2000:]}")
    return model_dir
