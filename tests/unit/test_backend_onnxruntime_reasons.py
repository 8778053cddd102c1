"""The one-line CannotRun reasons, from what paddle2onnx really printed (tests/fixtures/paddle2onnx)."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolchain.backends import CannotRun
from toolchain.backends.onnxruntime import conversion_failure, error_line
from toolchain.models.layout import ModelFiles

LOGS = Path(__file__).parents[1] / "fixtures" / "paddle2onnx"


def model(tmp_path: Path, fmt: str, program_bytes: bytes) -> ModelFiles:
    program = tmp_path / ("model.pdmodel" if fmt == "legacy" else "model.json")
    program.write_bytes(program_bytes)
    (tmp_path / "model.pdiparams").write_bytes(b"\0" * 16)
    return ModelFiles(dir=tmp_path, format=fmt, program=program,
                      params=tmp_path / "model.pdiparams")


def test_error_line_takes_the_first_error_without_colour_or_prefixes():
    assert error_line((LOGS / "int8_fp8_only_abort.log").read_text()) == \
        "Only support e4m3 or e5m2 now."
    assert error_line((LOGS / "corrupt_pdmodel.log").read_text()) == \
        ("Failed to convert PaddlePaddle model: (InvalidArgument) Failed to parse program_desc "
         "from binary string.")


def test_error_line_without_an_error_tag_falls_back_to_the_last_error_or_line():
    assert error_line("noise\nValueError: bad op\nmore\n") == "ValueError: bad op"
    assert error_line("only this\n") == "only this"
    assert error_line("") == "no output"


def test_an_int8_model_the_converter_aborts_on_names_fp8(tmp_path):
    files = model(tmp_path, "legacy", b"ops: quantize_linear dequantize_linear")
    err = conversion_failure(files, -6, (LOGS / "int8_fp8_only_abort.log").read_text(), "2.1.0")
    assert isinstance(err, CannotRun) and err.reason == str(err)
    assert err.reason == ("paddle2onnx 2.1.0 cannot convert an INT8 model: it maps "
                          "quantize_linear/dequantize_linear to FP8 only (opset 19, e4m3/e5m2) "
                          "and aborted with \"Only support e4m3 or e5m2 now.\"")


@pytest.mark.parametrize("fmt, start", [("legacy", "paddle2onnx failed: Failed to convert"),
                                        ("pir", "paddle2onnx 2.1.0 cannot convert a PIR (.json) "
                                                "model: Failed to convert")])
def test_other_failures_say_what_the_converter_said_in_one_line(tmp_path, fmt, start):
    files = model(tmp_path, fmt, b"a plain program")
    reason = conversion_failure(files, 255, (LOGS / "corrupt_pdmodel.log").read_text(),
                                "2.1.0").reason
    assert reason.startswith(start) and "\n" not in reason and len(reason) < 320


def test_a_killed_converter_says_by_which_signal(tmp_path):
    files = model(tmp_path, "legacy", b"a plain program")
    assert conversion_failure(files, -9, "", "2.1.0").reason == \
        "paddle2onnx failed (killed by signal 9): no output"
