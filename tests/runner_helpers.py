"""Session fixtures for the runner / quantize / models tests: one real little lab.

`trained_lab` builds, once per test session and with the real parts only:
sample images (E's write_sample_dataset), train.bin + val.bin with sidecars (E's
preprocess_dataset), the small classifier trained and exported in both formats
(toolchain.models.zoo.export_model) and its INT8 model (toolchain.quantize).
That is what quickstart leaves behind, so `invoke run --int8` must work on it
with no flag.

Import the fixture into a test module with
    from runner_helpers import trained_lab  # noqa: F401
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from toolchain.settings import LabSettings


@dataclass
class TrainedLab:
    root: Path
    settings: LabSettings
    export: object          # ExportResult of small_cnn
    quantize: object        # QuantizeResult

    @property
    def work_dir(self) -> Path:
        return self.settings.work_dir

    @property
    def fp32(self) -> Path:
        return self.work_dir / "models" / "small_cnn" / "fp32"

    @property
    def int8(self) -> Path:
        return self.work_dir / "models" / "small_cnn" / "int8"

    @property
    def train(self) -> Path:
        return self.work_dir / "data" / "train.bin"

    @property
    def val(self) -> Path:
        return self.work_dir / "data" / "val.bin"

    def env(self) -> dict:
        """INVOKE_LAB_* for running the real CLI against this lab."""
        return {"INVOKE_LAB_WORK_DIR": str(self.work_dir),
                "INVOKE_LAB_LIB_DIR": str(self.work_dir / "lib"),
                "INVOKE_LAB_CACHE_DIR": str(self.root / "cache"),
                "INVOKE_LAB_RESULTS_DIR": str(self.root / "results"),
                "INVOKE_LAB_LOCK_FILE": str(self.root / "lab.lock.toml")}


def lab_settings(work_dir: Path) -> LabSettings:
    return LabSettings.from_mapping({"work_dir": str(work_dir),
                                     "lib_dir": str(Path(work_dir) / "lib")})


_BUILT: dict[str, TrainedLab] = {}


@pytest.fixture(scope="session")
def trained_lab(tmp_path_factory) -> TrainedLab:
    # Each test module that imports this fixture gets its own fixture definition;
    # the lab is built once per session all the same (this module is imported once).
    if "lab" not in _BUILT:
        _BUILT["lab"] = _build(tmp_path_factory)
    return _BUILT["lab"]


def _build(tmp_path_factory) -> TrainedLab:
    from toolchain.data.preprocess import preprocess_dataset
    from toolchain.data.sample import write_sample_dataset
    from toolchain.models.zoo import export_model
    from toolchain.quantize import quantize_model

    root = tmp_path_factory.mktemp("trained_lab")
    settings = lab_settings(root / "work")
    data = settings.work_dir / "data"
    write_sample_dataset(data / "sample")
    for split in ("train", "val"):
        preprocess_dataset(data / "sample", f"{split}_list.txt", data / f"{split}.bin",
                           jobs=min(2, os.cpu_count() or 1))
    export = export_model(settings, "small_cnn")
    quant = quantize_model(settings, settings.work_dir / "models" / "small_cnn" / "fp32",
                           data / "train.bin", algo="avg", batch_size=10, batch_nums=10)
    return TrainedLab(root=root, settings=settings, export=export, quantize=quant)
