"""The pure resolver, --auto, --mirror and the dry-run plan."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from toolchain.errors import LabError
from toolchain.fetch.plan import mirror_url, render_script
from toolchain.fetch.resolve import LibraryRequest, apply_auto, filter_rows, resolve
from toolchain.library.manifest import load_manifest

ROWS = load_manifest()


def test_cuda_10_2_picks_newest_release_then_newest_cudnn_trt():
    res = resolve(LibraryRequest(cuda="10.2", preferred_paddle="3.0.0"), ROWS)
    assert res.row.id == "2.5.2-linux-gpu-cuda10.2-cudnn8.1.1-trt7.2.3.4-gcc8.2-mkl-avx"
    text = "\n".join(res.reasons)
    assert "3.0.0 has no such build" in text and "newest release" in text


def test_partial_trt_matches_both_trt7_builds():
    rows = filter_rows(LibraryRequest(paddle="2.5.2", trt="7"), ROWS)
    assert {r.tensorrt for r in rows} == {"7.0.0.11", "7.2.3.4"}
    assert resolve(LibraryRequest(paddle="2.5.2", trt="7.0"), ROWS).row.tensorrt == "7.0.0.11"


def test_preferred_paddle_and_device_defaults():
    assert resolve(LibraryRequest(device="gpu", preferred_paddle="3.0.0"),
                   ROWS).row.id.startswith("3.0.0-linux-gpu-cuda12.6")
    cpu = resolve(LibraryRequest(), ROWS).row
    assert cpu.device == "cpu" and cpu.math_lib == "mkl" and cpu.avx
    noavx = resolve(LibraryRequest(no_avx=True), ROWS).row
    assert noavx.avx is False


def test_final_release_beats_prerelease():
    row = resolve(LibraryRequest(paddle="3.0", cuda="11.8"), ROWS).row
    assert row.paddle_version == "3.0.0"


def test_removed_rows_only_with_include_removed():
    req = LibraryRequest(paddle="3.0.0", cuda="11.8", gcc="8.2")
    with pytest.raises(LabError) as err:
        resolve(req, ROWS)
    assert "--include-removed" in err.value.message
    row = resolve(LibraryRequest(paddle="3.0.0", cuda="11.8", gcc="8.2", include_removed=True),
                  ROWS).row
    assert row.status == "removed"


def test_no_match_lists_nearest_rows():
    with pytest.raises(LabError) as err:
        resolve(LibraryRequest(paddle="3.0.0", cuda="10.2"), ROWS)
    msg = err.value.message
    assert "CUDA versions that exist with device=gpu, paddle=3.0.0: 11.8, 12.6" in msg
    assert "Paddle versions that exist with device=gpu, cuda=10.2:" in msg and "2.5.2" in msg
    assert err.value.hint


@dataclass
class FakeReport:
    """ProbeReport-like: the four properties --auto reads (the probe's contract)."""

    driver_cuda_max: str | None = None
    cudnn_version: str | None = None
    tensorrt_version: str | None = None
    gcc_version: str | None = None


def test_auto_fills_from_probe_report():
    req, notes = apply_auto(LibraryRequest(), FakeReport("12.2", "8.9.7", "8.6.1.6", "11.4.0"))
    assert (req.device, req.cuda_max, req.cudnn, req.trt, req.gcc_max) == (
        "gpu", "12.2", "8", "8", "11.4")
    row = resolve(req, ROWS).row
    assert row.id == "3.2.1-linux-gpu-cuda11.8-cudnn8.9.7-trt8.6.1.6-gcc11.2-mkl-avx"
    # with lab.paddle_version = 3.0.0 the same build of 3.0.0
    req3 = LibraryRequest(preferred_paddle="3.0.0")
    row3 = resolve(apply_auto(req3, FakeReport("12.2", "8.9.7", "8.6.1.6", "11.4.0"))[0],
                   ROWS).row
    assert row3.id == "3.0.0-linux-gpu-cuda11.8-cudnn8.9.7-trt8.6.1.6-gcc11.2-mkl-avx"
    assert any("driver" in n for n in notes)


def test_auto_respects_explicit_flags_and_old_gcc():
    req, _ = apply_auto(LibraryRequest(cuda="10.2"), FakeReport("12.2", "8.1.1", "7.2.3.4",
                                                                 "7.5.0"))
    assert req.cuda == "10.2" and req.cuda_max is None
    row = resolve(req, ROWS).row
    # gcc 7.5 cannot take a gcc 8.2 build: the gcc5.4 one is chosen
    assert row.gcc == "5.4" and row.tensorrt.startswith("7") and row.cudnn.startswith("8")


def test_auto_without_driver_picks_cpu():
    req, notes = apply_auto(LibraryRequest(), FakeReport(gcc_version="12.2.0"))
    assert req.device == "cpu" and resolve(req, ROWS).row.device == "cpu"


def test_mirror_url_keeps_path():
    url = "https://paddle-inference-lib.bj.bcebos.com/2.5.2/cxx_c/x/paddle_inference.tgz"
    assert mirror_url(url, "http://127.0.0.1:8080") == \
        "http://127.0.0.1:8080/2.5.2/cxx_c/x/paddle_inference.tgz"
    assert mirror_url(url, "https://m.lab/paddle/") == \
        "https://m.lab/paddle/2.5.2/cxx_c/x/paddle_inference.tgz"
    with pytest.raises(LabError):
        mirror_url(url, "ftp://x")


def test_dry_run_script_is_pasteable(tmp_path):
    from toolchain.fetch.run import FetchOptions, choose_row, make_plan
    from toolchain.settings import LabSettings

    settings = LabSettings.from_mapping({"work_dir": str(tmp_path / "w"),
                                         "cache_dir": str(tmp_path / "c"),
                                         "lib_dir": str(tmp_path / "l"),
                                         "lock_file": str(tmp_path / "lock.toml")})
    res = choose_row(settings, LibraryRequest(cuda="10.2"), FetchOptions(), {}, ROWS)
    lock = {"libraries": {res.row.id: {"sha256": "ab" * 32, "size": 10}}}
    plan = make_plan(settings, res, FetchOptions(mirror="http://127.0.0.1:9"), lock)
    script = render_script(plan)
    assert "curl -fL" in script and "-C -" in script and "http://127.0.0.1:9/2.5.2/" in script
    assert f"{'ab' * 32}  " in script and "sha256sum -c -" in script
    assert "tar -xzf" in script and str(tmp_path / "l" / res.row.id) in script
    assert plan.checksum_source == "lock"


def test_auto_with_the_real_probe_report_class():
    from toolchain.doctor import ProbeReport

    report = ProbeReport()
    report.driver_cuda_max, report.cudnn_version = "11.4", "8.2.1"
    report.tensorrt_version, report.gcc_version = "8.0.3.4", "9.4.0"
    req, notes = apply_auto(LibraryRequest(), report)
    row = resolve(req, ROWS).row
    assert (row.cuda, row.cudnn, row.tensorrt, row.gcc) == ("11.2", "8.2.1", "8.0.3.4", "8.2")
