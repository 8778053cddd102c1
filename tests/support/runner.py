"""One real little lab for the runner / quantize / models tests.

`build_trained_lab` makes, with the real parts only: sample images
(write_sample_dataset), train.bin + val.bin with sidecars (preprocess_dataset), the
small classifier trained and exported in both formats (export_model) and its INT8
model (quantize_model). That is what quickstart leaves behind, so `invoke run --int8`
must work on it with no flag. The session fixture `trained_lab` is in
tests/integration/conftest.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from support.lab import lab_env, lab_settings
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
        return lab_env(self.root)


def build_trained_lab(tmp_path_factory) -> TrainedLab:
    from toolchain.data.preprocess import preprocess_dataset
    from toolchain.data.sample import write_sample_dataset
    from toolchain.models.zoo import export_model
    from toolchain.quantize import quantize_model

    root = tmp_path_factory.mktemp("trained_lab")
    settings = lab_settings(lab_env(root))
    data = settings.work_dir / "data"
    write_sample_dataset(data / "sample")
    for split in ("train", "val"):
        preprocess_dataset(data / "sample", f"{split}_list.txt", data / f"{split}.bin",
                           jobs=min(2, os.cpu_count() or 1))
    export = export_model(settings, "small_cnn")
    quant = quantize_model(settings, settings.work_dir / "models" / "small_cnn" / "fp32",
                           data / "train.bin", algo="avg", batch_size=10, batch_nums=10)
    return TrainedLab(root=root, settings=settings, export=export, quantize=quant)
