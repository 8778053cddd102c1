"""STAND-IN Paddle Inference C++ SDK for tests (Paddle's C++ SDK cannot be had here).

The real library's download servers are unreachable and the pip wheel ships no C++
headers, so tests that compile and run the C++ demo (demo/) build this stand-in: an
installed-library-shaped tree whose headers declare the API subset the demo uses
with the REAL signatures (paddle_infer's headers of each release), and a
small shared library running a deterministic linear classifier whose weights are
read from the model dir. Nothing here pretends to be fast or to use a GPU.

Shapes (`api=`):
- "2.x": the 2.5+/3.x shape. paddle/lib/libpaddle_inference.so + libcommon.so,
  namespace paddle_infer (Config, Predictor, Tensor, CreatePredictor), 7-argument
  EnableTensorRtEngine(int64_t workspace, ..., use_cuda_graph), EnableMkldnnInt8,
  a 3.x `Paddle version:` version.txt, built with _GLIBCXX_USE_CXX11_ABI=1, and by
  default a third_party/install dir whose mklml/lib/libstandin_mklml.so the main
  library needs at load time (so RPATH handling is really exercised).
- "1.x": the 1.8 fluid_inference shape. paddle/lib/libpaddle_fluid.so only,
  paddle::AnalysisConfig + CreatePaddlePredictor + ZeroCopyTensor (copy_from_cpu,
  ZeroCopyRun, SwitchUseFeedFetchOps), six-argument int-workspace
  EnableTensorRtEngine, no EnableMkldnnInt8, the old version.txt, built with
  _GLIBCXX_USE_CXX11_ABI=0 (like gcc 4.8-era libraries) and by default no
  third_party dir.

Python side:
- `build_standin_sdk(dest, api="2.x", third_party=None, cxx11_abi=None, with_gpu=False)
  -> Path`: compile the tree into `dest` (made atomically; real g++), return it.
  with_gpu=True only changes version.txt (WITH_GPU: ON, CUDA/cuDNN/TensorRT lines):
  the stand-in records GPU/TensorRT config calls and still computes on the CPU.
- `write_standin_model(model_dir, num_classes=10, seed=0, layout="pdmodel")`: write
  a model the stand-in loads. layout: "pdmodel" (inference.pdmodel +
  inference.pdiparams), "json" (inference.json + inference.pdiparams), "combined"
  (model + params), "dir" (__model__ + fc_0.w_0 + fc_0.b_0).
- `standin_predict(images, model_dir) -> np.ndarray` (N, num_classes) float32
  logits computed independently with numpy (float64 accumulation, like the C++).
- `PADDLE_STANDIN_TRACE=<file>` in a program's environment makes the stand-in
  append every config call it received (and "CreatePredictor") to that file.

The REAL engine, where the installed paddlepaddle wheel exports the C++ inference
API (3.3.1 does): `standin_sdk.wheel.build_wheel_sdk(dest)` makes an
installed-library tree around the wheel's libpaddle.so, so the demo runs real
models on the real engine (CPU); `wheel_sdk_unavailable()` says why not where it
cannot; `export_test_model(dir, legacy=False)` exports a real MobileNetV1 x0.25;
`python_config(demo_json)` rebuilds the demo's config in the Python API.

How to import: pytest puts tests/ on sys.path (rootdir
conftest, default "prepend" import mode), so inside tests write
    from standin_sdk import build_standin_sdk, write_standin_model, standin_predict
With the project root on sys.path (python -m pytest from the root, or a script),
`from tests.standin_sdk import ...` works as well. Building takes ~5-10 s on 2
cores: build once per session (session-scoped fixture), e.g. tests/support/demo.py
`standin_sdk_2x` / `standin_sdk_1x`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FEATURES = 48
MAGIC = "PADDLE-STANDIN-CLASSIFIER v1"
IMAGE_SHAPE = (3, 224, 224)

_VERSION_TXT = {
    "2.x": ("Paddle version: 3.0.0-standin\n"
            "GIT COMMIT ID: 0000000000000000000000000000000000000000\n"
            "WITH_MKL: ON\nWITH_ONEDNN: ON\nWITH_OPENVINO: OFF\nWITH_GPU: {gpu}\n"
            "WITH_ROCM: OFF\nWITH_IPU: OFF\n{gpu_lines}CXX compiler version: {cxx}\n"
            "{trt_lines}"),
    "1.x": ("GIT COMMIT ID: 0000000000000000000000000000000000000000\n"
            "WITH_MKL: ON\nWITH_MKLDNN: ON\nWITH_GPU: {gpu}\n{gpu_lines}"
            "CXX compiler version: {cxx}\n{trt_lines}"),
}


def _gxx_version() -> str:
    out = subprocess.run(["g++", "-dumpfullversion", "-dumpversion"], capture_output=True,
                         text=True, timeout=30)
    return out.stdout.strip() or "unknown"


def _gxx(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(["g++", *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"stand-in SDK compile failed: g++ {' '.join(args)}\n{proc.stderr}")


def build_standin_sdk(dest: Path, api: str = "2.x", third_party: bool | None = None,
                      cxx11_abi: int | None = None, with_gpu: bool = False) -> Path:
    """Build the stand-in SDK into `dest` (must not exist) and return `dest`.

    The tree: paddle/include/*.h, paddle/lib/<main lib>(.so), version.txt,
    CMakeCache.txt, and (third_party=True) third_party/install/{mklml,protobuf}.
    """
    if api not in ("2.x", "1.x"):
        raise ValueError(f"api must be '2.x' or '1.x', not {api!r}")
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(dest)
    if third_party is None:
        third_party = api == "2.x"
    if cxx11_abi is None:
        cxx11_abi = 1 if api == "2.x" else 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        _build_into(tmp, api, third_party, cxx11_abi, with_gpu)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _build_into(root: Path, api: str, third_party: bool, abi: int, with_gpu: bool) -> None:
    include = root / "paddle" / "include"
    lib = root / "paddle" / "lib"
    include.mkdir(parents=True)
    lib.mkdir(parents=True)
    headers = HERE / ("include_2x" if api == "2.x" else "include_1x")
    for h in headers.glob("*.h"):
        shutil.copy2(h, include / h.name)
    src = HERE / "src"
    flags = ["-std=c++17", "-O2", "-fPIC", "-shared", f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
             f"-I{include}", f"-I{src}"]
    link: list[str] = []
    if third_party:
        tp = root / "third_party" / "install"
        (tp / "mklml" / "include").mkdir(parents=True)
        (tp / "mklml" / "lib").mkdir(parents=True)
        (tp / "protobuf" / "include").mkdir(parents=True)   # include only: no lib dir
        (tp / "mklml" / "include" / "standin_mklml.h").write_text(
            "// STAND-IN (tests only)\n"
            "extern \"C\" double standin_mklml_dot(const float*, const double*, int);\n")
        _gxx([*flags, str(src / "standin_mklml.cc"), "-Wl,-soname,libstandin_mklml.so",
              "-o", str(tp / "mklml" / "lib" / "libstandin_mklml.so")], root)
        flags.append("-DSTANDIN_WITH_MKLML")
        link = [f"-L{tp / 'mklml' / 'lib'}", "-lstandin_mklml"]
    if api == "2.x":
        _gxx([*flags, str(src / "standin_model.cc"), "-Wl,-soname,libcommon.so",
              "-o", str(lib / "libcommon.so"), *link], root)
        _gxx([*flags, str(src / "standin_predictor.cc"), "-Wl,-soname,libpaddle_inference.so",
              "-o", str(lib / "libpaddle_inference.so"), f"-L{lib}", "-lcommon", *link], root)
    else:
        _gxx([*flags, "-DSTANDIN_API_1X", str(src / "standin_predictor.cc"),
              str(src / "standin_model.cc"), "-Wl,-soname,libpaddle_fluid.so",
              "-o", str(lib / "libpaddle_fluid.so"), *link], root)
    gpu_lines = "CUDA version: 12.6\nCUDNN version: v9.5\n" if with_gpu else ""
    trt_lines = "WITH_TENSORRT: ON\nTensorRT version: v10.5.0.18\n" if with_gpu else ""
    (root / "version.txt").write_text(_VERSION_TXT[api].format(
        gpu="ON" if with_gpu else "OFF", gpu_lines=gpu_lines, cxx=_gxx_version(),
        trt_lines=trt_lines))
    (root / "CMakeCache.txt").write_text("# STAND-IN Paddle Inference SDK (tests only)\n")


def _layout_files(model_dir: Path, layout: str) -> tuple[Path, Path | None]:
    return {
        "pdmodel": (model_dir / "inference.pdmodel", model_dir / "inference.pdiparams"),
        "json": (model_dir / "inference.json", model_dir / "inference.pdiparams"),
        "combined": (model_dir / "model", model_dir / "params"),
        "dir": (model_dir / "__model__", None),
    }[layout]


def write_standin_model(model_dir: Path, num_classes: int = 10, seed: int = 0,
                        layout: str = "pdmodel") -> Path:
    """Write a stand-in classifier (random weights from `seed`) into `model_dir`."""
    import numpy as np

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((num_classes, FEATURES)).astype("<f4")
    b = (0.1 * rng.standard_normal(num_classes)).astype("<f4")
    prog, params = _layout_files(model_dir, layout)
    prog.write_text(f"{MAGIC}\nnum_classes {num_classes}\nfeatures {FEATURES}\n")
    if params is not None:
        params.write_bytes(w.tobytes() + b.tobytes())
    else:
        (model_dir / "fc_0.w_0").write_bytes(w.tobytes())
        (model_dir / "fc_0.b_0").write_bytes(b.tobytes())
    return model_dir


def _read_weights(model_dir: Path):
    import numpy as np

    model_dir = Path(model_dir)
    for layout in ("pdmodel", "json", "combined", "dir"):
        prog, params = _layout_files(model_dir, layout)
        if prog.is_file():
            break
    else:
        raise FileNotFoundError(f"no stand-in model in {model_dir}")
    lines = prog.read_text().split("\n")
    fields = dict(line.split() for line in lines[1:] if line.strip())
    n = int(fields["num_classes"])
    if params is not None:
        flat = np.fromfile(params, dtype="<f4")
        return flat[: n * FEATURES].reshape(n, FEATURES), flat[n * FEATURES:]
    return (np.fromfile(model_dir / "fc_0.w_0", dtype="<f4").reshape(n, FEATURES),
            np.fromfile(model_dir / "fc_0.b_0", dtype="<f4"))


def standin_predict(images, model_dir: Path):
    """Logits (N, num_classes) float32 of the stand-in classifier, in numpy."""
    import numpy as np

    x = np.asarray(images, dtype=np.float32).reshape(-1, *IMAGE_SHAPE)
    w, b = _read_weights(model_dir)
    # 4x4 grid of 56x56 blocks per channel -> 48 block means, float64 as in C++.
    feats = x.astype(np.float64).reshape(len(x), 3, 4, 56, 4, 56).mean(axis=(3, 5))
    feats = feats.reshape(len(x), FEATURES)
    return (feats @ w.astype(np.float64).T + b.astype(np.float64)).astype(np.float32)
