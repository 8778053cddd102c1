"""NaN/Inf checks over numpy arrays (pure): which images of a batch hold a non-finite value."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LabError


@dataclass(frozen=True)
class NonFinite:
    nan: int                 # NaN values
    inf: int                 # +-Inf values
    first_image: int         # index (in the dataset) of the first image that has one

    def describe(self) -> str:
        parts = [f"{n} {what}" for n, what in ((self.nan, "NaN"), (self.inf, "Inf")) if n]
        return " and ".join(parts)


def find_nonfinite(values, first_image: int = 0) -> NonFinite | None:
    """None when every value of `values` (batch first) is finite; else the counts and the
    dataset index of the first image with a NaN/Inf (`first_image` = index of row 0)."""
    import numpy as np

    arr = np.asarray(values)
    if arr.dtype.kind not in "fc":
        return None
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    rows = bad.reshape(bad.shape[0], -1).any(axis=1) if arr.ndim > 1 else bad
    nan = int(np.isnan(arr).sum())
    return NonFinite(nan=nan, inf=int(bad.sum()) - nan,
                     first_image=first_image + int(np.flatnonzero(rows)[0]))


def nonfinite_error(found: NonFinite, model: str, tensor: str = "the output") -> LabError:
    return LabError(
        f"{model} produced {found.describe()} in {tensor} (first at image "
        f"{found.first_image}); a result with NaN/Inf is not a measurement",
        where=model,
        hint="an INT8 model: compare it with its FP32 model op by op (`invoke compare-layers "
             "--int8-dir MODEL`), then re-quantize with another --algo or keep the breaking "
             "op in FP32 (`invoke repair-int8`); an FP32 model: check its weights (re-export "
             "it) and the dataset (`invoke preprocess`)")


def check_finite(values, model: str, first_image: int = 0, tensor: str = "the output") -> None:
    """LabError naming `model` and the image index when `values` holds a NaN or Inf."""
    found = find_nonfinite(values, first_image)
    if found is not None:
        raise nonfinite_error(found, model, tensor)
