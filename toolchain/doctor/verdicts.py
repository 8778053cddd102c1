"""Checks over a ProbeReport: each ok / warn / fail with a one-line fix.

Pure: a report and the rules of recipes/gpu_requirements.toml and recipes/gpu_support.toml
in, verdicts out.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ..versions import major, major_minor
from ..versions import parse as parse_version
from .report import FAIL, FOUND, NOT_FOUND, OK, UNPARSED, WARN, ProbeReport, Verdict

RULES_PATH = Path(__file__).resolve().parents[2] / "recipes" / "gpu_requirements.toml"
SUPPORT_PATH = RULES_PATH.with_name("gpu_support.toml")
DISK_WARN_GIB = 10
DISK_FAIL_GIB = 2


@functools.lru_cache(maxsize=2)
def load_rules(path: Path = RULES_PATH) -> dict[str, Any]:
    import tomllib
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def range_row(version: str | None, rows: list[dict]) -> dict | None:
    """The row whose `from` is the highest one at or below `version` (None: none)."""
    best, best_from = None, None
    ver = parse_version(version)
    if ver is None:
        return None
    for row in rows:
        start = parse_version(row["from"])
        if start is not None and ver >= start and (best_from is None or start >= best_from):
            best_from, best = start, row
    return best


def trt_min_cc(trt_version: str, rules: dict) -> tuple[str | None, str]:
    """The lowest compute capability a TensorRT version supports, and why."""
    row = range_row(trt_version, rules.get("tensorrt_min_cc", []))
    return (row["min_cc"], row.get("note", "")) if row else (None, "")


def max_cc(version: str | None, table: str, support: dict) -> tuple[str | None, str]:
    """The highest compute capability CUDA (`cuda_max_cc`) or TensorRT (`tensorrt_max_cc`)
    `version` supports, and the row's source."""
    row = range_row(version, support.get(table, []))
    return (row["max_cc"], row.get("source", "")) if row else (None, "")


def first_version_for_cc(cc: str, table: str, support: dict) -> str | None:
    """The lowest `from` of `table` whose max_cc reaches `cc`."""
    fits = [row["from"] for row in support.get(table, []) if parse_version(row["max_cc"]) >= parse_version(cc)]
    return min(fits, key=parse_version) if fits else None


def driver_fits_cuda(driver_cuda_max: str | None, driver_version: str | None, cuda: str,
                     rules: dict) -> tuple[str, str]:
    """(level, reason) for running CUDA `cuda` code on this driver."""
    need, have = parse_version(major_minor(cuda)), parse_version(major_minor(driver_cuda_max))
    if need is None or have is None:
        return OK, "not comparable"
    if have >= need:
        return OK, f"driver supports CUDA <= {driver_cuda_max}"
    floor = rules.get("cuda_driver_min", {}).get(str(need.major))
    dv = parse_version(driver_version)
    if need.major >= 11 and have.major == need.major and floor and dv and dv >= parse_version(floor):
        return WARN, (f"driver supports CUDA <= {driver_cuda_max}; CUDA {cuda} runs through "
                      f"minor-version compatibility (driver >= {floor}), without newer features")
    return FAIL, f"driver supports CUDA <= {driver_cuda_max}, below CUDA {cuda}"


def _driver_fix(cuda: str, rules: dict) -> str:
    floor = rules.get("cuda_driver_min", {}).get(str(major(cuda)))
    # Drivers from 610 print "CUDA UMD Version" where older ones print "CUDA Version".
    return (f"install an NVIDIA driver whose nvidia-smi shows CUDA (UMD) Version >= "
            f"{major_minor(cuda)}"
            + (f" (at least {floor} for CUDA {major(cuda)}.x)" if floor else "")
            + ", or use a toolkit/build for an older CUDA")


def judge(report: ProbeReport, rules: dict | None = None,
          support: dict | None = None) -> list[Verdict]:
    rules = rules if rules is not None else load_rules()
    support = support if support is not None else load_rules(SUPPORT_PATH)
    out: list[Verdict] = []
    def add(check: str, level: str, message: str, fix: str | None = None) -> None:
        out.append(Verdict(check, level, message, fix))

    # Roots the user named that do not exist.
    for section, flag in (("cuda", "--cuda-root"), ("tensorrt", "--trt-root")):
        for f in report.in_section(section):
            if f.details.get("explicit") and f.status == NOT_FOUND:
                add(f"{section} root", FAIL, f"{f.source} does not exist",
                    f"fix {flag} / {'CUDA_HOME' if section == 'cuda' else 'TENSORRT_ROOT'} "
                    f"or lab.{'cuda_root' if section == 'cuda' else 'trt_root'}")

    _host(report, add)
    _toolchain(report, add)
    _gpu(report, rules, add)
    _tensorrt_libs(report, add)
    _library(report, rules, add)
    _gpu_vs_library(report, support, add)
    _library_runtime(report, add)
    _trt_vs_cudnn(report, support, add)

    for f in report.findings:
        if f.status == UNPARSED:
            add(f"parse {f.name}", WARN, f"could not read a version from {f.source}",
                "see its raw text in `invoke doctor --json` and report it")
    return out


def _host(report: ProbeReport, add) -> None:
    flags = report.cpu_flags
    if flags:
        if {"amx_int8", "avx512_vnni"} & flags:
            best = "amx_int8" if "amx_int8" in flags else "avx512_vnni"
            add("cpu int8", OK, f"CPU has {best}: oneDNN INT8 gets its fast kernels")
        elif "avx2" in flags:
            add("cpu int8", WARN, "CPU has no avx512_vnni/amx_int8: oneDNN INT8 gains little "
                                  "over FP32 here", "measure INT8 CPU speed-ups on a VNNI Xeon "
                                                    "(Cascade Lake or newer)")
        else:
            add("cpu int8", WARN, "CPU has no avx2: Paddle's INT8 CPU kernels cannot run fast",
                "use an x86-64 CPU with AVX2 (better AVX512-VNNI) for CPU INT8")
        from .collectors import BF16_FLAGS

        bf16 = [flag for flag in BF16_FLAGS if flag in flags]
        if bf16:
            add("cpu bf16", OK, f"CPU has {' '.join(bf16)}: --bf16 runs through oneDNN's "
                                "bfloat16 kernels")
        else:
            add("cpu bf16", WARN, f"CPU has none of {', '.join(BF16_FLAGS)}: --bf16 is refused",
                "use --fp32 or --int8 here; BF16 needs a Cooper Lake / Sapphire Rapids Xeon "
                "or a Zen 4 EPYC")
    disk = report.finding("host", "disk free")
    if disk and disk.status == FOUND:
        gib = disk.details["free_bytes"] / 2**30
        if gib < DISK_FAIL_GIB:
            add("disk", FAIL, f"only {gib:.1f} GiB free at {disk.source}",
                f"free space or set lab.work_dir (INVOKE_LAB_WORK_DIR) to a disk with "
                f">= {DISK_WARN_GIB} GiB")
        elif gib < DISK_WARN_GIB:
            add("disk", WARN, f"{gib:.1f} GiB free at {disk.source}: a GPU library and the "
                              "ImageNet set need more", "point lab.work_dir at a larger disk")
        else:
            add("disk", OK, f"{gib:.0f} GiB free at {disk.source}")


def _toolchain(report: ProbeReport, add) -> None:
    def status(name):
        f = report.finding("toolchain", name)
        return f.status if f else NOT_FOUND

    if status("g++") == NOT_FOUND:
        add("c++ compiler", FAIL, "g++ not found: build-demo and build-lib need it",
            "apt-get install g++ (or build-essential)")
    elif report.gcc_version:
        abi = "" if report.cxx11_abi is None else f", _GLIBCXX_USE_CXX11_ABI={report.cxx11_abi}"
        add("c++ compiler", OK, f"g++ {report.gcc_version}{abi}")
    if status("cmake") == NOT_FOUND:
        add("cmake", FAIL, "cmake not found: build-demo and build-lib need it",
            "apt-get install cmake (or pip install cmake)")
    elif report.cmake_version:
        add("cmake", OK, f"cmake {report.cmake_version}")
    if status("make") == NOT_FOUND and status("ninja") == NOT_FOUND:
        add("build tool", FAIL, "neither make nor ninja found", "apt-get install make")
    if status("git") == NOT_FOUND:
        add("git", WARN, "git not found: build-lib cannot fetch Paddle's sources",
            "apt-get install git")
    if report.paddle_wheel is None:
        add("paddle wheel", WARN, "no paddle wheel installed: quantize and the Python runner "
                                  "need one", "pip install 'paddle-trt-lab[cpu]' (or [gpu])")
    else:
        w = report.paddle_wheel
        add("paddle wheel", OK, f"paddle {w['version']}" + (f" (CUDA {w['cuda']})"
                                                              if w.get("cuda") else " (CPU)"))


def _gpu(report: ProbeReport, rules: dict, add) -> None:
    smi = report.finding("driver", "nvidia-smi")
    if smi is None or smi.status == NOT_FOUND:
        add("nvidia driver", WARN, "nvidia-smi not found: no NVIDIA GPU path on this machine; "
                                   "only CPU (oneDNN) runs", "on a GPU machine install the "
                                                             "NVIDIA driver")
        return
    if smi.status != FOUND:
        first = (smi.raw or "").strip().splitlines()[:1]
        add("nvidia driver", FAIL, f"nvidia-smi failed: {first[0] if first else smi.status}",
            "check that the NVIDIA kernel module is loaded (dmesg, /proc/driver/nvidia/version)")
        return
    add("nvidia driver", OK, f"driver {report.driver_version}, CUDA <= {report.driver_cuda_max}")

    for kit in report.cuda_toolkits:
        level, why = driver_fits_cuda(report.driver_cuda_max, report.driver_version,
                                      kit["version"], rules)
        if level != OK:
            add(f"driver vs CUDA {kit['version']}", level, f"{why} ({kit['root']})",
                _driver_fix(kit["version"], rules))
    if report.cuda_toolkits and all(
            driver_fits_cuda(report.driver_cuda_max, report.driver_version, k["version"],
                             rules)[0] == OK for k in report.cuda_toolkits):
        add("driver vs CUDA", OK, f"driver covers every toolkit found "
                                  f"({', '.join(k['version'] for k in report.cuda_toolkits)})")
    wheel_cuda = (report.paddle_wheel or {}).get("cuda")
    if wheel_cuda:
        level, why = driver_fits_cuda(report.driver_cuda_max, report.driver_version, wheel_cuda,
                                      rules)
        add("driver vs paddle wheel", level, why if level != OK else
            f"driver runs the wheel's CUDA {wheel_cuda}",
            _driver_fix(wheel_cuda, rules) if level != OK else None)

    for f in report.in_section("driver"):
        if f.name == "unreachable gpu":
            add("unreachable gpu", FAIL, f"nvidia-smi: {f.raw}",
                "a GPU fell off the bus or hung: check `dmesg` for Xid errors and reboot; "
                "until then CUDA may fail on every GPU of this machine")
    if not report.gpus:
        add("gpus", FAIL, "nvidia-smi lists no GPU", "check `nvidia-smi -L` and the driver")
        return
    int8_min = rules.get("int8", {}).get("min_cc", "6.1")
    trt = _trt_in_use(report)
    for gpu in report.gpus:
        label = f"gpu {gpu['index']} ({gpu['name']})"
        cc = gpu.get("compute_capability")
        if not cc:
            add(label, WARN, "compute capability unknown (nvidia-smi has no compute_cap and the "
                             "name is not in recipes/gpu_requirements.toml)",
                "add the GPU to [gpu_compute_capability] in recipes/gpu_requirements.toml")
            continue
        via = "" if gpu.get("capability_source") == "nvidia-smi" else " (from the name table)"
        if parse_version(cc) < parse_version(int8_min):
            add(label, FAIL, f"sm {cc}{via}: TensorRT INT8 needs compute capability >= {int8_min}",
                "run FP32/FP16 here, or use a GPU with sm >= 6.1 (P4, T4, A10, ...)")
            continue
        if trt:
            need, note = trt_min_cc(trt[0], rules)
            if need and parse_version(cc) < parse_version(need):
                add(label, FAIL, f"sm {cc}{via}: TensorRT {trt[0]} ({trt[1]}) needs "
                                 f"compute capability >= {need} ({note})",
                    "use TensorRT 8.6 (Paddle <= 2.6, or the 3.x CUDA 11.8/TRT 8.6 build)")
                continue
        add(label, OK, f"sm {cc}{via}: TensorRT INT8 supported"
            + (f" with TensorRT {trt[0]}" if trt else ""))

    if not report.cudnn_installs and not any(
            f.status == FOUND for f in report.in_section("cudnn")):
        add("cudnn", WARN, "cuDNN not found (headers or libcudnn.so.N)",
            "install cuDNN (tar, deb or pip nvidia-cudnn-cuXX) or pass --cuda-root")
    elif report.cudnn_installs:
        versions = [i["version"] for i in report.cudnn_installs]
        majors = {major(v) for v in versions}
        listed = ", ".join(f"{i['version']} ({i['kind']})" for i in report.cudnn_installs)
        if len(majors) > 1:
            add("cudnn", WARN, f"several cuDNN majors installed: {listed}; which one loads "
                               "depends on LD_LIBRARY_PATH", "keep one cuDNN major, or put the "
                                                              "one the library needs first on "
                                                              "LD_LIBRARY_PATH")
        else:
            add("cudnn", OK, f"cuDNN {listed}")


def _trt_in_use(report: ProbeReport) -> tuple[str, str] | None:
    """The TensorRT the GPU path will use: the library's, else the wheel's, else installed."""
    lib_trt = ((report.library or {}).get("version") or {}).get("tensorrt_version")
    if lib_trt:
        return lib_trt, "from the library's version.txt"
    wheel_trt = (report.paddle_wheel or {}).get("tensorrt")
    if wheel_trt:
        return wheel_trt, "of the paddle wheel"
    if report.tensorrt_version:
        return report.tensorrt_version, "installed"
    return None


def _tensorrt_libs(report: ProbeReport, add) -> None:
    sonames = [f for f in report.in_section("tensorrt")
               if f.name.startswith("libnvinfer.so.") and f.status == FOUND]
    pip = report.finding("tensorrt", "pip tensorrt")
    headers = [i for i in report.tensorrt_installs if i["kind"] == "headers"]
    if not sonames and not pip and not headers:
        if report.gpus:
            add("tensorrt", WARN, "TensorRT not found: GPU INT8 through TensorRT is unavailable",
                "install TensorRT (tar or libnvinfer-dev) and pass --trt-root / TENSORRT_ROOT")
        return
    if sonames and not report.libnvinfer_unversioned:
        first = sonames[0]
        add("libnvinfer.so", FAIL, f"{', '.join(f.name for f in sonames)} found but no unversioned "
                                   "libnvinfer.so, which Paddle dlopens",
            f"ln -s {first.name} {Path(first.source).parent}/libnvinfer.so and put that dir on "
            "LD_LIBRARY_PATH")
    elif sonames:
        add("libnvinfer.so", OK, f"unversioned libnvinfer.so at {report.libnvinfer_unversioned[0]}")
    if pip and not headers:
        add("tensorrt headers", WARN, "only the pip TensorRT (no headers): Paddle can run with it "
                                      "but build-lib cannot compile against it",
            "install the TensorRT tar or libnvinfer-dev and pass --trt-root")


def _library(report: ProbeReport, rules: dict, add) -> None:
    lib = report.library
    if not lib:
        return
    for problem in lib.get("problems", []):
        add("library layout", FAIL, f"{lib['path']}: {problem}",
            "point --lib at the folder with paddle/include, paddle/lib and version.txt, "
            "or run `invoke fetch-lib --from-wheel` (offline) or `invoke fetch-lib --auto`")
    info = lib.get("version") or {}
    if not info:
        return
    installed = {
        "cuDNN": [i["version"] for i in report.cudnn_installs]
                 + [f.name.rsplit(".", 1)[-1] for f in report.in_section("cudnn")
                    if f.name.startswith("libcudnn.so.") and f.status == FOUND],
        "TensorRT": [i["version"] for i in report.tensorrt_installs if i.get("version")]
                    + [f.name.rsplit(".", 1)[-1] for f in report.in_section("tensorrt")
                       if f.name.startswith("libnvinfer.so.") and f.status == FOUND],
    }
    for label, key in (("cuDNN", "cudnn_version"), ("TensorRT", "tensorrt_version")):
        want = info.get(key)
        if not want:
            continue
        majors = sorted({major(v) for v in installed[label] if major(v) is not None}, key=int)
        if not majors:
            add(f"library {label}", WARN if not report.gpus else FAIL,
                f"the library was built with {label} {want}; none is installed",
                f"install {label} {major(want)}.x (or fetch a library built for what you have)")
        elif major(want) not in majors:
            add(f"library {label}", FAIL,
                f"the library was built with {label} {want}; installed: "
                f"{', '.join(str(m) for m in majors)}.x",
                f"install {label} {major(want)}.x, or fetch-lib a build for {label} {majors[-1]}")
        else:
            add(f"library {label}", OK, f"{label} {major(want)}.x as in version.txt")
    cuda = info.get("cuda_version")
    if cuda and report.driver_cuda_max:
        level, why = driver_fits_cuda(report.driver_cuda_max, report.driver_version, cuda, rules)
        add("library CUDA", level, why, _driver_fix(cuda, rules) if level != OK else None)
    if info.get("with_gpu") and not report.gpus:
        add("library device", WARN, "the library is a GPU build but no GPU was found",
            "on this machine use a CPU build (fetch-lib --device cpu)")


def _gpu_vs_library(report: ProbeReport, support: dict, add) -> None:
    """A GPU newer than the library: above what its CUDA or TensorRT can target."""
    info = (report.library or {}).get("version") or {}
    if not report.gpus or not (info.get("cuda_version") or info.get("tensorrt_version")):
        return
    for gpu in report.gpus:
        cc = gpu.get("compute_capability")
        if not parse_version(cc):
            continue
        label = f"gpu {gpu['index']} vs library"
        problems, fixes = [], []
        for what, key, table in (("CUDA", "cuda_version", "cuda_max_cc"),
                                 ("TensorRT", "tensorrt_version", "tensorrt_max_cc")):
            have = info.get(key)
            top, source = max_cc(have, table, support)
            if top and parse_version(cc) > parse_version(top):
                need = first_version_for_cc(cc, table, support)
                problems.append(f"{what} {have} targets compute capability <= {top} ({source})")
                fixes.append(f"{what} >= {need}" if need else f"a newer {what}")
        if problems:
            add(label, FAIL, f"{gpu['name']} is sm {cc}; the library's " + "; ".join(problems),
                "fetch a library built with " + " and ".join(fixes)
                + " (invoke fetch-lib --list --auto), or build-lib with them")
        else:
            add(label, OK, f"sm {cc} is within the library's CUDA {info.get('cuda_version')}"
                + (f" / TensorRT {info['tensorrt_version']}" if info.get("tensorrt_version")
                   else ""))


def _library_runtime(report: ProbeReport, add) -> None:
    """The sonames the library needs (NEEDED entries and version.txt), found or missing."""
    check = (report.library or {}).get("runtime")
    if not check:
        return
    missing = [n for n in check["needs"] if not n.get("path")]
    level = FAIL if report.gpus else WARN
    if missing:
        steps: list[str] = []
        for n in missing:
            if n.get("install") and n["install"] not in steps:
                steps.append(n["install"])
        add("library runtime", level,
            "the library needs " + ", ".join(f"{n['soname']} ({n['why']})" for n in missing)
            + ": not found in LD_LIBRARY_PATH, TENSORRT_ROOT, CUDA toolkits, pip nvidia-* "
              "wheels or ldconfig -p",
            "; ".join(steps) + "; then put their lib folders on LD_LIBRARY_PATH"
            " (or fetch-lib --auto a build for the runtime you have)")
    found = [n for n in check["needs"] if n.get("path")]
    if found:
        add("library runtime", OK, "found " + ", ".join(
            f"{n['soname']} ({n['where']})" for n in found))


def _trt_vs_cudnn(report: ProbeReport, support: dict, add) -> None:
    """TensorRT tested against a newer cuDNN minor than the host's (same major)."""
    info = (report.library or {}).get("version") or {}
    trt = info.get("tensorrt_version") or report.tensorrt_version
    if not trt:
        return
    host = [i["version"] for i in report.cudnn_installs if parse_version(i.get("version"))]
    for row in support.get("tensorrt_cudnn_min", []):
        if major_minor(trt) != row["tensorrt"]:
            continue
        floor = parse_version(row["cudnn_min"])
        for have in host:
            hv = parse_version(have)
            if hv.major == floor.major and hv < floor:
                add("tensorrt vs cudnn", WARN,
                    f"TensorRT {trt} was built and tested with cuDNN >= {row['cudnn_min']} "
                    f"({row['source']}); this host has cuDNN {have}",
                    f"install cuDNN {row['cudnn_min']} or newer {floor.major}.x")
