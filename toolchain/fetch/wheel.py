"""fetch-lib --from-wheel: a Paddle Inference C++ library from the installed paddlepaddle wheel.

What it is: the wheel's own engine (paddle/base/libpaddle.so exports the C++
inference API the official libpaddle_inference.so is built from), for C++ runs
without a download. For production, use the official library (`invoke fetch-lib`)
or a source build (`invoke build-lib`).

The tree has the layout build-demo expects:
- paddle/include/: declarations of ours (wheel_include/) for the API subset the demo
  uses (the wheel ships no inference headers);
- paddle/lib/libpaddle_inference.so: a GNU ld script naming the wheel's libpaddle.so
  and libpython (libpaddle.so is a Python extension and needs libpython's symbols;
  Python is never initialised); both are symlinked into paddle/lib, paddle/libs links
  to the wheel's libs/ (libphi, libdnnl ...), where libpaddle.so's RUNPATH looks;
  a GPU wheel also gets nvidia/ (the pip CUDA libraries, ../../nvidia from paddle/lib);
- version.txt: the wheel's version, commit, WITH_GPU / WITH_TENSORRT / CUDA / cuDNN /
  TensorRT as the wheel's paddle/version/__init__.py states them, and `Source: wheel`.

Before it is registered, the declarations are proven true for this wheel:
1. the probe (wheel_probe.cc, which references every declared function) is compiled;
   every symbol its object file needs from Paddle must be exported by libpaddle.so;
2. the probe, linked against the tree, runs a seeded model; its output must equal
   Python paddle.inference's on the same model, input and configuration, bit for bit.
The proof is cached under <cache_dir>/wheel-proof/, keyed by the sha256 of
libpaddle.so and of our declarations + probe, so a second run is fast.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import LabError
from ..fsio import swap_in_directory
from ..results import JsonResult

HERE = Path(__file__).resolve().parent
INCLUDE_DIR = HERE / "wheel_include"
PROBE_SOURCE = HERE / "wheel_probe.cc"
WHAT_IT_IS = ("the paddlepaddle wheel's own engine, for C++ runs without a download; for "
              "production use the official library (`invoke fetch-lib`) or a source build "
              "(`invoke build-lib`)")
PROOF_VERSION = "1"          # bump when the proof's meaning changes (invalidates caches)
TIMEOUT = 600

# Run in the wheel's interpreter: where paddle is and what it says of itself, without
# importing paddle (paddle/version/__init__.py is executed on its own).
_QUERY = r"""
import importlib.util, json, sys, sysconfig, pathlib, runpy
spec = importlib.util.find_spec("paddle")
out = {"python": sys.executable, "py_version": sysconfig.get_python_version(),
       "libdir": sysconfig.get_config_var("LIBDIR") or "",
       "ldlibrary": sysconfig.get_config_var("LDLIBRARY") or "", "paddle_dir": None}
if spec is not None and spec.submodule_search_locations:
    d = pathlib.Path(list(spec.submodule_search_locations)[0])
    out["paddle_dir"] = str(d)
    v = d / "version" / "__init__.py"
    if v.is_file():
        g = runpy.run_path(str(v))
        out["version"] = {k: (g.get(k) if isinstance(g.get(k), (str, bool, type(None)))
                              else str(g.get(k)))
                          for k in ("full_version", "commit", "cuda_version", "cudnn_version",
                                    "tensorrt_version", "with_mkl", "with_pip_tensorrt")}
    try:
        from importlib.metadata import distribution
        for name in ("paddlepaddle-gpu", "paddlepaddle"):
            try:
                out["distribution"] = distribution(name).metadata["Name"]; break
            except Exception:
                pass
    except Exception:
        pass
print(json.dumps(out))
"""

# Run in the wheel's interpreter: a seeded small classifier, exported, and its output
# through Python paddle.inference with the probe's configuration.
_PYTHON_SIDE = r"""
import os, sys, json
import numpy as np
import paddle
work = sys.argv[1]
paddle.seed(0)
np.random.seed(0)
net = paddle.nn.Sequential(
    paddle.nn.Conv2D(3, 8, 3, padding=1), paddle.nn.BatchNorm2D(8), paddle.nn.ReLU(),
    paddle.nn.Conv2D(8, 16, 3, stride=2, padding=1), paddle.nn.ReLU(),
    paddle.nn.AdaptiveAvgPool2D(1), paddle.nn.Flatten(), paddle.nn.Linear(16, 10),
    paddle.nn.Softmax())
net.eval()
spec = [paddle.static.InputSpec([None, 3, 32, 32], "float32", "x")]
paddle.jit.save(net, os.path.join(work, "inference"), input_spec=spec)
model = next(os.path.join(work, "inference" + s) for s in (".json", ".pdmodel")
             if os.path.exists(os.path.join(work, "inference" + s)))
params = os.path.join(work, "inference.pdiparams")
x = np.random.rand(2, 3, 32, 32).astype("float32")
x.tofile(os.path.join(work, "input.bin"))
from paddle import inference
config = inference.Config(model, params)
config.disable_gpu()
config.set_cpu_math_library_num_threads(1)
config.switch_ir_optim(True)
config.disable_glog_info()
predictor = inference.create_predictor(config)
h = predictor.get_input_handle(predictor.get_input_names()[0])
h.reshape(list(x.shape))
h.copy_from_cpu(x)
predictor.run()
y = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
np.ascontiguousarray(y, dtype="float32").tofile(os.path.join(work, "python_out.bin"))
print(json.dumps({"model": model, "params": params, "shape": list(x.shape),
                  "out_shape": list(y.shape)}))
"""


@dataclass
class WheelInfo(JsonResult):
    """The installed wheel, as it states itself (no paddle import)."""

    python: str
    paddle_dir: str
    version: str
    commit: str | None
    with_gpu: bool
    cuda: str | None
    cudnn: str | None
    tensorrt: str | None
    with_mkl: bool
    libpaddle: str
    libpython: str | None
    distribution: str | None = None

    @property
    def with_tensorrt(self) -> bool:
        return bool(self.tensorrt)


@dataclass
class WheelProof(JsonResult):
    key: str
    libpaddle_sha256: str
    declarations_sha256: str
    symbols_checked: int
    cxx11_abi: int
    out_shape: list[int] = field(default_factory=list)
    bytes_compared: int = 0
    engine_version: str = ""
    cached: bool = False
    proved: str = ""
    optional_kept: list[str] = field(default_factory=list)
    optional_dropped: list[str] = field(default_factory=list)


@dataclass
class WheelLibrary(JsonResult):
    path: str
    info: WheelInfo
    proof: WheelProof
    version_txt: str
    what: str = WHAT_IT_IS


def _clean(value: Any) -> str | None:
    if value in (None, False, "False", "None", "", "0", "OFF"):
        return None
    return str(value)


def wheel_info_from_query(q: dict) -> WheelInfo:
    """Pure: the query's JSON -> WheelInfo; LabError when no usable wheel."""
    if not q.get("paddle_dir"):
        raise LabError("no paddlepaddle wheel is installed for " + str(q.get("python")),
                       where=str(q.get("python")),
                       hint="pip install paddlepaddle (CPU) or paddlepaddle-gpu, or use "
                            "`invoke fetch-lib` for the official library")
    v = q.get("version") or {}
    paddle_dir = Path(q["paddle_dir"])
    lib = paddle_dir / "base" / "libpaddle.so"
    libpython = None
    names = [q.get("ldlibrary") or "", f"libpython{q.get('py_version')}.so"]
    for name in names:
        cand = Path(q.get("libdir") or "/nonexistent") / name
        if name and (name.endswith(".so") or ".so." in name) and cand.exists():
            libpython = str(cand.resolve())
            break
    cuda = _clean(v.get("cuda_version"))
    return WheelInfo(python=q["python"], paddle_dir=str(paddle_dir),
                     version=v.get("full_version") or "unknown", commit=_clean(v.get("commit")),
                     with_gpu=cuda is not None, cuda=cuda, cudnn=_clean(v.get("cudnn_version")),
                     tensorrt=_clean(v.get("tensorrt_version")),
                     with_mkl=str(v.get("with_mkl")).upper() == "ON", libpaddle=str(lib),
                     libpython=libpython, distribution=q.get("distribution"))


def locate_wheel(python: str | Path | None = None) -> WheelInfo:
    """The wheel installed for `python` (default: this interpreter)."""
    python = str(python or sys.executable)
    try:
        proc = subprocess.run([python, "-c", _QUERY], capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"cannot ask {python} about its paddle wheel: {exc}", where=python,
                       hint="give a working Python interpreter") from None
    if proc.returncode != 0:
        raise LabError(f"{python} failed to describe its paddle wheel: "
                       f"{proc.stderr.strip()[-500:]}", where=python,
                       hint="reinstall paddlepaddle in that environment")
    return wheel_info_from_query(json.loads(proc.stdout))


def library_name(info: WheelInfo, gpu: bool) -> str:
    return f"paddle_inference-wheel-{info.version}" + ("-gpu" if gpu else "")


def render_version_txt(info: WheelInfo) -> str:
    """Pure: the version.txt of a wheel-derived library."""
    on = {True: "ON", False: "OFF"}
    lines = [f"Paddle version: {info.version}",
             f"GIT COMMIT ID: {info.commit or 'unknown'}",
             f"WITH_MKL: {on[info.with_mkl]}",
             "WITH_ONEDNN: ON",
             f"WITH_GPU: {on[info.with_gpu]}"]
    if info.with_gpu:
        lines.append(f"WITH_TENSORRT: {on[info.with_tensorrt]}")
        lines.append(f"CUDA version: {info.cuda}")
        if info.cudnn:
            lines.append(f"CUDNN version: v{info.cudnn}")
        if info.tensorrt:
            lines.append(f"TensorRT version: v{info.tensorrt}")
    lines.append(f"Source: wheel ({info.distribution or 'paddlepaddle'} {info.version}, "
                 f"{info.paddle_dir}); wheel-derived, not an official Paddle Inference "
                 "library")
    return "\n".join(lines) + "\n"


@dataclass
class WheelPlan(JsonResult):
    """What assembling will do: links and files, relative to the tree's root."""

    dest: str
    links: dict[str, str]        # tree path -> target
    files: dict[str, str]        # tree path -> content
    headers: list[str]
    gpu: bool
    notes: list[str] = field(default_factory=list)


def plan_wheel_library(info: WheelInfo, dest: Path, gpu: bool = False) -> WheelPlan:
    """Pure (given info): the tree for `dest`; LabError for a wheel that cannot give it."""
    if gpu and not info.with_gpu:
        raise LabError(f"--gpu: the installed wheel ({info.distribution or 'paddlepaddle'} "
                       f"{info.version}) is CPU-only (its paddle/version says cuda False)",
                       where=info.paddle_dir,
                       hint="pip install paddlepaddle-gpu (the build that fits `invoke doctor`)"
                            ", or drop --gpu for a CPU library")
    if not info.libpython:
        raise LabError("no shared libpython (libpython3.X.so) to link libpaddle.so against: "
                       f"{info.python} is a static build", where=info.python,
                       hint="use a Python built with --enable-shared (distribution Pythons "
                            "and python.org builds are; install the libpython3.X package)")
    paddle_dir = Path(info.paddle_dir)
    libpython = Path(info.libpython)
    links = {"paddle/lib/libpaddle.so": info.libpaddle,
             f"paddle/lib/{libpython.name}": str(libpython),
             "paddle/libs": str(paddle_dir / "libs")}
    notes = []
    if gpu:
        nvidia = paddle_dir.parent / "nvidia"
        links["nvidia"] = str(nvidia)   # libpaddle.so's RUNPATH $ORIGIN/../../nvidia/*/lib
        notes.append("GPU: CUDA/cuDNN come from the pip nvidia-* packages (nvidia/); build "
                     "the demo with --gpu" + (" --trt and TENSORRT_ROOT" if info.tensorrt
                                                 else ""))
    script = ("/* GNU ld script: the paddlepaddle wheel's engine + the libpython it needs "
              "(fetch-lib --from-wheel) */\n"
              f"INPUT({info.libpaddle} {libpython})\n")
    files = {"paddle/lib/libpaddle_inference.so": script,
             "version.txt": render_version_txt(info)}
    headers = sorted(p.name for p in INCLUDE_DIR.glob("*.h"))
    return WheelPlan(dest=str(dest), links=links, files=files, headers=headers, gpu=gpu,
                     notes=notes)


def render_plan_script(plan: WheelPlan) -> str:
    from ..shellscript import ShellScript

    sh = ShellScript("fetch-lib --from-wheel --dry-run", WHAT_IT_IS)
    for n in plan.notes:
        sh.note(f"note: {n}")
    sh.variable("DEST", plan.dest)
    sh.run(["mkdir", "-p", f"{plan.dest}/paddle/include", f"{plan.dest}/paddle/lib"])
    for h in plan.headers:
        sh.run(["cp", str(INCLUDE_DIR / h), f"{plan.dest}/paddle/include/"],
               note="minus `// optional` lines the wheel does not export")
    for rel, target in plan.links.items():
        sh.run(["ln", "-s", target, f"{plan.dest}/{rel}"])
    for rel, text in plan.files.items():
        sh.write_file(f"{plan.dest}/{rel}", text)
    sh.comment("then: prove (probe vs Python paddle.inference) and register as current")
    return sh.render()


def declarations_digest() -> str:
    h = hashlib.sha256(PROOF_VERSION.encode())
    for p in sorted(INCLUDE_DIR.glob("*.h")) + [PROBE_SOURCE, Path(__file__)]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _run(cmd: list[str], what: str, timeout: int = TIMEOUT, **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    except FileNotFoundError:
        raise LabError(f"{cmd[0]} is not installed ({what})",
                       hint="install binutils and g++ (apt-get install build-essential)"
                       ) from None
    except subprocess.TimeoutExpired:
        raise LabError(f"{what} took longer than {timeout} s", where=" ".join(cmd[:3]),
                       hint="the machine is overloaded; try again") from None


_OPTIONAL_RE = re.compile(r"^\s+[^/]*?\b(\w+)\([^/]*;\s*// optional\s*$")


def optional_declarations() -> list[str]:
    """Methods whose declaration (a line marked `// optional`) exists only in some versions."""
    out = []
    for h in sorted(INCLUDE_DIR.glob("*.h")):
        for line in h.read_text().splitlines():
            m = _OPTIONAL_RE.match(line)
            if m:
                out.append(m.group(1))
    return out


def exported_config_methods(exports: set[str], names: list[str]) -> list[str]:
    """Pure: which AnalysisConfig methods of `names` the mangled exports define."""
    return [n for n in names if any(f"14AnalysisConfig{len(n)}{n}E" in e for e in exports)]


def write_headers(include: Path, kept: list[str]) -> None:
    """Our declarations into `include`, without the optional ones this wheel lacks."""
    for h in sorted(INCLUDE_DIR.glob("*.h")):
        lines = []
        for line in h.read_text().splitlines(True):
            m = _OPTIONAL_RE.match(line.rstrip("\n"))
            if m and m.group(1) not in kept:
                continue
            lines.append(line)
        (include / h.name).write_text("".join(lines))


def _exported(lib: str) -> set[str]:
    proc = _run(["nm", "-D", "--defined-only", lib], "reading libpaddle.so's exports")
    if proc.returncode != 0:
        raise LabError(f"nm could not read {lib}: {proc.stderr.strip()[-300:]}", where=lib,
                       hint="the wheel is damaged; reinstall paddlepaddle")
    return {line.split()[-1] for line in proc.stdout.splitlines() if line.strip()}


def _demangle(names: list[str]) -> list[str]:
    proc = _run(["c++filt"], "demangling", input="\n".join(names))
    return proc.stdout.split("\n")[:len(names)] if proc.returncode == 0 else names


def _paddle_symbol(name: str) -> bool:
    # paddle::, paddle_infer:: (namespaces 6paddle / 12paddle_infer), incl. templates
    return "6paddle" in name or "12paddle_infer" in name


def prove(tree: Path, info: WheelInfo, work: Path, libpaddle_sha: str,
          progress: Callable[[str], None] | None = None, exports: set[str] | None = None,
          kept: list[str] | None = None) -> WheelProof:
    """Compile the probe, check its Paddle symbols are exported, run it vs Python."""
    say = progress or (lambda _m: None)
    exports = exports if exports is not None else _exported(info.libpaddle)
    kept = list(kept if kept is not None else optional_declarations())
    abi = 1 if any("AnalysisConfig8SetModel" in s and "__cxx11" in s for s in exports) else 0
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or "g++"
    obj = work / "wheel_probe.o"
    say("compiling the probe against our declarations")
    proc = _run([cxx, "-std=c++17", "-O1", f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
                 *[f"-DWHEEL_HAS_{n}=1" for n in kept], "-I", str(tree / "paddle" / "include"), "-c", str(PROBE_SOURCE), "-o",
                 str(obj)], "compiling the wheel probe")
    if proc.returncode != 0:
        raise LabError("our declarations do not compile: " + proc.stderr.strip()[-800:],
                       where=str(tree / "paddle" / "include"),
                       hint="a compiler problem (g++ >= 8 with C++17 is needed)")
    undef = _run(["nm", "-u", str(obj)], "listing the probe's symbols").stdout
    needed = sorted({ln.split()[-1] for ln in undef.splitlines()
                     if ln.strip() and _paddle_symbol(ln.split()[-1])})
    missing = [n for n in needed if n not in exports]
    if missing:
        raise LabError(
            f"the wheel {info.version} does not export {len(missing)} of the {len(needed)} "
            "functions our declarations declare: " + "; ".join(_demangle(missing)),
            where=info.libpaddle,
            hint="this paddlepaddle version's C++ API differs from the declarations "
                 "(toolchain/fetch/wheel_include/); use a version listed in "
                 "docs/fetch-lib.md, or the official library (`invoke fetch-lib`)")
    exe = work / "wheel_probe"
    say(f"linking the probe ({len(needed)} Paddle symbols, all exported)")
    proc = _run([cxx, str(obj), "-o", str(exe), "-L", str(tree / "paddle" / "lib"),
                 "-lpaddle_inference", f"-Wl,-rpath,{tree / 'paddle' / 'lib'}"],
                "linking the wheel probe")
    if proc.returncode != 0:
        raise LabError("the probe does not link against the wheel library: "
                       + proc.stderr.strip()[-800:], where=str(tree / "paddle" / "lib"),
                       hint="the wheel's libpaddle.so or libpython is unusable here")
    say("running a seeded model through Python paddle.inference")
    proc = _run([info.python, "-c", _PYTHON_SIDE, str(work)], "the Python side of the proof",
                env={**os.environ, "GLOG_minloglevel": "2"})
    if proc.returncode != 0:
        raise LabError("Python paddle.inference failed on the seeded model: "
                       + proc.stderr.strip()[-800:], where=info.python,
                       hint="the wheel does not run here; check `python -c 'import paddle; "
                            "paddle.utils.run_check()'`")
    side = json.loads(proc.stdout.strip().splitlines()[-1])
    say("running the same model through the C++ probe")
    shape = [str(d) for d in side["shape"]]
    proc = _run([str(exe), side["model"], side["params"], str(work / "input.bin"), *shape,
                 str(work / "cpp_out.bin")], "running the wheel probe",
                env={**os.environ, "GLOG_minloglevel": "2"})
    if proc.returncode != 0:
        raise LabError(f"the C++ probe failed (exit {proc.returncode}): "
                       + (proc.stderr.strip() or proc.stdout.strip())[-800:],
                       where=str(tree), hint="the declarations do not match this wheel's "
                       "ABI; use the official library (`invoke fetch-lib`)")
    lines = proc.stdout.strip().splitlines()
    cpp_shape = [int(d) for d in lines[0].split()[1:]] if lines else []
    py_bytes = (work / "python_out.bin").read_bytes()
    cpp_bytes = (work / "cpp_out.bin").read_bytes()
    diff = compare_outputs(py_bytes, cpp_bytes, side["out_shape"], cpp_shape)
    if diff:
        raise LabError("the C++ probe's output differs from Python paddle.inference's on the "
                       "same model and input: " + diff, where=str(tree),
                       hint="the declarations are not true for this wheel; use the official "
                            "library (`invoke fetch-lib`)")
    return WheelProof(key="", libpaddle_sha256=libpaddle_sha,
                      declarations_sha256=declarations_digest(), symbols_checked=len(needed),
                      cxx11_abi=abi, out_shape=cpp_shape, bytes_compared=len(cpp_bytes),
                      engine_version=" ".join(lines[1:])[:200],
                      proved=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                      optional_kept=kept,
                      optional_dropped=[n for n in optional_declarations() if n not in kept])


def compare_outputs(py: bytes, cpp: bytes, py_shape: list[int], cpp_shape: list[int]
                    ) -> str | None:
    """Pure: None when bit-identical, else what differs (shape, first float, count)."""
    import struct

    if list(py_shape) != list(cpp_shape):
        return f"output shape: Python {list(py_shape)}, C++ {list(cpp_shape)}"
    if len(py) != len(cpp):
        return f"output size: Python {len(py)} bytes, C++ {len(cpp)} bytes"
    if py == cpp:
        return None
    n = len(py) // 4
    a, b = struct.unpack(f"{n}f", py[:4 * n]), struct.unpack(f"{n}f", cpp[:4 * n])
    bad = [i for i in range(n) if struct.pack("f", a[i]) != struct.pack("f", b[i])]
    i = bad[0]
    return (f"{len(bad)} of {n} floats differ; first at index {i}: Python {a[i]!r}, "
            f"C++ {b[i]!r} (max |diff| {max(abs(a[j] - b[j]) for j in bad):.3g})")


def _proof_cache(cache_dir: Path | None) -> Path | None:
    return Path(cache_dir) / "wheel-proof" if cache_dir else None


def _writable_or_error(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test.", delete=True)
        probe.close()
    except OSError as exc:
        raise LabError(f"cannot write the {what}: {exc.strerror or exc}", where=str(folder),
                       hint="make it writable, or point lab.lib_dir / --lib-dir (and "
                            "lab.work_dir) at a writable folder") from None


def assemble_wheel_library(dest: Path, gpu: bool = False, python: str | Path | None = None,
                           cache_dir: Path | None = None,
                           progress: Callable[[str], None] | None = None) -> WheelLibrary:
    """Build the tree at `dest` from the wheel, prove it, put it in place (atomically).

    Registers nothing. LabError (and nothing at `dest` changed) when it cannot.
    """
    from ..fsio import sha256_file

    say = progress or (lambda _m: None)
    dest = Path(dest).resolve()
    info = locate_wheel(python)
    if not Path(info.libpaddle).is_file():
        raise LabError(f"the wheel has no {info.libpaddle}", where=info.paddle_dir,
                       hint="reinstall paddlepaddle (pip install --force-reinstall "
                            "paddlepaddle)")
    plan = plan_wheel_library(info, dest, gpu)
    _writable_or_error(dest.parent, "library folder")
    say(f"hashing {info.libpaddle}")
    lib_sha = sha256_file(Path(info.libpaddle))
    decl = declarations_digest()
    key = hashlib.sha256(f"{lib_sha}:{decl}:{info.libpython}".encode()).hexdigest()[:32]
    cache = _proof_cache(cache_dir)
    cached = None
    if cache and (cache / f"{key}.json").is_file():
        try:
            cached = WheelProof(**json.loads((cache / f"{key}.json").read_text()))
            cached.cached = True
        except (ValueError, TypeError):
            cached = None
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for sub in ("paddle/include", "paddle/lib"):
            (tmp / sub).mkdir(parents=True)
        if cached is None:
            say("reading libpaddle.so's exports")
            exports = _exported(info.libpaddle)
            kept = exported_config_methods(exports, optional_declarations())
        else:
            exports, kept = None, cached.optional_kept
        write_headers(tmp / "paddle" / "include", kept)
        for rel, target in plan.links.items():
            (tmp / rel).symlink_to(target)
        for rel, text in plan.files.items():
            (tmp / rel).write_text(text)
        if cached is None:
            work = Path(tempfile.mkdtemp(prefix=".wheel-proof.", dir=dest.parent))
            try:
                proof = prove(tmp, info, work, lib_sha, say, exports, kept)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            proof.key = key
            if cache:
                from ..state import write_json_atomic

                try:
                    write_json_atomic(cache / f"{key}.json", proof.to_dict())
                except OSError:
                    pass   # a read-only cache only costs the next run the proof
        else:
            say("proof cached (same libpaddle.so, same declarations)")
            proof = cached
        swap_in_directory(tmp, dest, aside_prefix=f".{dest.name}.old.")
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise LabError(f"cannot assemble the library: {exc}", where=str(dest),
                       hint="check that the folder is writable and has space") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return WheelLibrary(path=str(dest), info=info, proof=proof,
                        version_txt=plan.files["version.txt"])


def fetch_from_wheel(settings, gpu: bool = False, dry_run: bool = False, progress=None,
                     python: str | Path | None = None):
    """fetch-lib --from-wheel: assemble under <lib_dir>/paddle_inference-wheel-<version>[-gpu],
    prove, then register like a downloaded library (current library, lock entry)."""
    from ..lock.file import load_lock, save_lock, set_library_entry
    from ..state import set_current_library
    from .run import FetchResult

    info = locate_wheel(python)
    name = library_name(info, gpu)
    dest = Path(settings.lib_dir).resolve() / name
    url = "wheel:" + info.paddle_dir
    result = FetchResult(row_id=name, status="planned", url=url, install_dir=str(dest),
                         checksum_source="wheel",
                         reasons=[f"from the installed {info.distribution or 'paddlepaddle'} "
                                  f"{info.version} wheel ({info.paddle_dir})", WHAT_IT_IS])
    if dry_run:
        result.script = render_plan_script(plan_wheel_library(info, dest, gpu))
        return result
    _writable_or_error(Path(settings.lock_file).resolve().parent, "lock file's folder")
    lib = assemble_wheel_library(dest, gpu=gpu, python=python, cache_dir=settings.cache_dir,
                                 progress=progress)
    from ..library.installed import inspect_library

    size = Path(info.libpaddle).stat().st_size
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    lock = load_lock(settings.lock_file)
    set_library_entry(lock, name, {"url": url, "sha256": lib.proof.libpaddle_sha256,
                                   "size": size, "recorded": now, "source": "wheel",
                                   "file": "paddle/lib/libpaddle.so"})
    save_lock(settings.lock_file, lock)
    set_current_library(settings.lib_dir, dest, name, "wheel", sha256=lib.proof.libpaddle_sha256,
                        size=size, url=url, wheel_version=info.version)
    result.status = "installed"
    result.sha256, result.size = lib.proof.libpaddle_sha256, size
    result.cache_hit = lib.proof.cached
    result.version_txt = inspect_library(dest).version
    result.reasons.append(f"proved: {lib.proof.symbols_checked} declared symbols exported; "
                          f"probe output = Python paddle.inference, {lib.proof.bytes_compared} "
                          "bytes bit-identical" + (" (cached proof)" if lib.proof.cached else ""))
    return result


def wheel_flag_conflicts(**given: Any) -> None:
    """LabError when --from-wheel is combined with flags that pick a download."""
    bad = sorted(k.replace("_", "-") for k, v in given.items() if v)
    if bad:
        raise LabError("--from-wheel takes no download flags, got: "
                       + ", ".join(f"--{b}" for b in bad),
                       hint="--from-wheel uses the installed wheel as it is (only --gpu, "
                            "--lib-dir, --dry-run, --json apply); drop the other flags, or "
                            "drop --from-wheel to download an official library")
