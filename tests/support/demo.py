"""The C++ demo tests' parts: stand-in SDKs, demo builds, datasets.

The real Paddle C++ SDK cannot be had here, so the demo is compiled (real cmake,
real g++) against the stand-in SDK of tests/standin_sdk in both shapes, once per
test session: `demo_2x` (2.x+/3.x shape, third_party dir, C++11 ABI 1) and
`demo_1x` (1.8 shape, no third_party, ABI 0). Each fixture value is a DemoBuild
with .lib, .build_dir, .trt_clas, .test_acc (fixtures in tests/integration/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from support import ROOT
from standin_sdk import build_standin_sdk, standin_predict, write_standin_model

DEMO_SOURCE = ROOT / "demo"
NUM_CLASSES = 12


@dataclass
class DemoBuild:
    lib: Path
    build_dir: Path
    api: str

    @property
    def trt_clas(self) -> Path:
        return self.build_dir / "trt_clas"

    @property
    def test_acc(self) -> Path:
        return self.build_dir / "test_acc"


def cmake_build(lib: Path, build_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    """Configure and build demo/ by hand, exactly as docs/demo.md tells users to."""
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    conf = subprocess.run(["cmake", "-S", str(DEMO_SOURCE), "-B", str(build_dir), *gen,
                           f"-DPADDLE_LIB={lib}", *extra],
                          capture_output=True, text=True, timeout=300)
    if conf.returncode != 0:
        return conf
    return subprocess.run(["cmake", "--build", str(build_dir)], capture_output=True, text=True,
                          timeout=600)


def build_demo(tmp_path_factory, api: str) -> DemoBuild:
    """The demo compiled against a stand-in SDK of `api` shape ("2.x" or "1.x")."""
    root = tmp_path_factory.mktemp(f"demo_{api.replace('.', '')}")
    lib = build_standin_sdk(root / "paddle_inference", api=api)
    proc = cmake_build(lib, root / "build")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return DemoBuild(lib=lib, build_dir=root / "build", api=api)


def standin_model_dir(tmp_path_factory) -> Path:
    return write_standin_model(tmp_path_factory.mktemp("model") / "fp32",
                               num_classes=NUM_CLASSES, seed=7)


def make_images(n: int, model_dir: Path, seed: int = 0, hit_rate: float = 0.6):
    """n random images and labels; about `hit_rate` of the labels are the stand-in's
    own top-1 (so accuracy is neither 0 nor 1), the others random."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((n, 3, 224, 224), dtype=np.float32)
    logits = standin_predict(images, model_dir)
    labels = rng.integers(0, logits.shape[1], n).astype(np.int64)
    hit = rng.random(n) < hit_rate
    labels[hit] = logits.argmax(1)[hit]
    return images, labels


def write_bin(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """The bin format: int64 N | N float32 3x224x224 | N int64 labels (little-endian)."""
    with open(path, "wb") as fh:
        fh.write(np.int64(len(images)).astype("<i8").tobytes())
        for img in images:                       # streamed, like a real writer
            fh.write(np.ascontiguousarray(img, dtype="<f4").tobytes())
        fh.write(np.asarray(labels, dtype="<i8").tobytes())
    return path


def write_slim_dir(folder: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """The tutorial's format: <i>.data = 602112 bytes of float32 + int32 label."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (img, label) in enumerate(zip(images, labels)):
        (folder / f"{i}.data").write_bytes(np.ascontiguousarray(img, dtype="<f4").tobytes()
                                           + np.int32(label).astype("<i4").tobytes())
    return folder


def expected_accuracy(images: np.ndarray, labels: np.ndarray, model_dir: Path):
    """(top1, top5, per-image top1) computed independently in numpy. A class is in
    the top 5 when fewer than 5 classes score strictly higher (the demo's rule)."""
    logits = standin_predict(images, model_dir)
    top1 = logits.argmax(1)
    target = logits[np.arange(len(labels)), labels]
    rank = (logits > target[:, None]).sum(1)
    return float((top1 == labels).mean()), float((rank < 5).mean()), top1


def run_demo(binary: Path, *args: str, env: dict | None = None, timeout: float = 120
             ) -> subprocess.CompletedProcess:
    """Run a demo binary with LD_LIBRARY_PATH removed (it must not be needed)."""
    full = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    full.update(env or {})
    return subprocess.run([str(binary), *args], capture_output=True, text=True, env=full,
                          timeout=timeout)


def last_json(stdout: str) -> dict:
    """The demo's final JSON line (the contract: the last line of stdout)."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    assert lines, "no output"
    return json.loads(lines[-1])
