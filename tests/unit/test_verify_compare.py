"""Pure parts of lock / verify / lab: item names, comparison, hashing, host settings,
remote command lines, cross-host differences, and the per-host deadline."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from toolchain.hosts import remote as lab_hosts
from toolchain.errors import LabError
from toolchain.hosts.diff import flatten_json, host_differences
from toolchain.hosts.remote import HostOutcome
from toolchain.hosts.spec import parse_address, remote_command, resolve_hosts
from toolchain.lock.collect import flatten_lock, item_name, portable, sha256_file
from toolchain.lock.file import load_lock, save_lock
from toolchain.settings import HostDefaults, LabSettings
from toolchain.lock.compare import compare


def test_item_names_quote_file_paths_and_survive_toml(tmp_path):
    assert item_name(("system", "cuda_version")) == "system.cuda_version"
    assert item_name(("data", "val.bin", "sha256")) == 'data["val.bin"].sha256'
    data = {"data": {"calib/val.bin": {"sha256": "aa", "size": 3}},
            "demo": {"cmake_args": ["-DA=1", "-DB=2"]},
            "missing": {"system": "no probe"}}
    save_lock(tmp_path / "l.toml", data)
    flat = flatten_lock(load_lock(tmp_path / "l.toml"))
    assert flat == {'data["calib/val.bin"].sha256': "aa", 'data["calib/val.bin"].size': 3,
                    "demo.cmake_args": ["-DA=1", "-DB=2"]}


def test_compare_statuses():
    lock = {"system": {"cuda_version": "12.6", "driver_version": "560.35"},
            "tool": {"git_commit": "aaa"},
            "library": {"main_lib_sha256": "x"},
            "missing": {"demo": "no demo build", "python.packages.paddlepaddle-gpu": "not installed"}}
    here = {"system": {"cuda_version": "12.4"},
            "tool": {"git_commit": "bbb"},
            "library": {"main_lib_sha256": "x"},
            "demo": {"gpu": True},
            "missing": {"system.driver_version": "nvidia-smi not found",
                        "python.packages.paddlepaddle-gpu": "not installed"}}
    items = {i.key: i for i in compare(lock, here)}
    assert items["library.main_lib_sha256"].status == "ok"
    cuda = items["system.cuda_version"]
    assert (cuda.status, cuda.expected, cuda.found, cuda.matters) == ("different", "12.6",
                                                                      "12.4", True)
    drv = items["system.driver_version"]
    assert drv.status == "missing" and drv.note == "nvidia-smi not found"
    assert items["tool.git_commit"].status == "different"
    assert items["tool.git_commit"].matters is False  # tool.* only warns by default
    new = items["demo.gpu"]
    assert new.status == "different" and new.expected is None
    assert new.note == "demo: no demo build"
    both = items["python.packages.paddlepaddle-gpu"]
    assert both.status == "ok" and both.note == "missing in the lock and here"
    strict = {i.key: i for i in compare(lock, here, strict=True)}
    assert strict["tool.git_commit"].matters is True
    some = {i.key for i in compare(lock, here, warn=(), ignore=("system.*",))}
    assert not any(k.startswith("system") for k in some)


def test_sha256_streams_in_chunks(tmp_path):
    path = tmp_path / "big.bin"
    payload = bytes(range(256)) * (3 * 4096 + 7)  # > 3 MiB, not a chunk multiple
    path.write_bytes(payload)
    seen = []
    assert sha256_file(path, seen.append) == hashlib.sha256(payload).hexdigest()
    assert len(seen) == 4 and sum(seen) == len(payload)


def test_portable_paths(tmp_path):
    s = LabSettings.from_mapping({"work_dir": str(tmp_path / "w"),
                                  "lib_dir": str(tmp_path / "w" / "lib")})
    assert portable(f"-DPADDLE_LIB={tmp_path}/w/lib/row/paddle_inference", s) == \
        "-DPADDLE_LIB=$LIB_DIR/row/paddle_inference"
    assert portable(f"{tmp_path}/w/models/m", s) == "$WORK_DIR/models/m"
    assert portable("/opt/elsewhere", s) == "/opt/elsewhere"


def test_parse_address():
    assert parse_address("lab@gpu1:2222") == ("lab", "gpu1", 2222)
    assert parse_address("gpu1") == (None, "gpu1", None)
    assert parse_address("10.0.0.5:22") == (None, "10.0.0.5", 22)
    assert parse_address("me@[::1]:2200") == ("me", "::1", 2200)
    with pytest.raises(LabError):
        parse_address("lab@")
    with pytest.raises(LabError):
        parse_address("gpu1:notaport")


def test_resolve_hosts_merges_defaults_and_entries():
    defaults = HostDefaults(user="lab", key="~/.ssh/id_lab",
                            env={"PATH": "/opt/venv/bin:$PATH", "A": "1"})
    cfg = {"gpu1": {"host": "10.0.0.11", "env": {"A": "2"}, "timeout": 60},
           "gpu2": "ops@10.0.0.12:2022"}
    g1, g2, raw = resolve_hosts(["gpu1", "gpu2", "x@h3:23", "gpu1"], cfg, defaults)
    assert (g1.host, g1.port, g1.user, g1.timeout) == ("10.0.0.11", 22, "lab", 60)
    assert g1.env == {"PATH": "/opt/venv/bin:$PATH", "A": "2"}
    assert g1.key.endswith("/.ssh/id_lab") and not g1.key.startswith("~")
    assert (g2.user, g2.host, g2.port) == ("ops", "10.0.0.12", 2022)
    assert (raw.user, raw.host, raw.port, raw.folder) == ("x", "h3", 23, "x_h3_23")
    with pytest.raises(LabError, match="not an environment variable"):
        resolve_hosts(["a"], {"a": {"env": {"BAD-NAME": "1"}}}, defaults)
    with pytest.raises(LabError, match="no hosts"):
        resolve_hosts([" "], {}, defaults)


def test_remote_command_quotes_paths_and_expands_env():
    spec = lab_hosts.HostSpec(name="g", host="h", checkout="/opt/my lab",
                              env={"PATH": "/v/bin:$PATH", "NOTE": 'say "hi" `x`'})
    cmd = remote_command(spec, "bench", ["--model", "a b"], 30)
    assert cmd == ("cd '/opt/my lab' && export PATH=\"/v/bin:$PATH\" "
                   "NOTE=\"say \\\"hi\\\" \\`x\\`\" && "
                   "timeout -k 10 30 invoke bench --json --model 'a b'")
    home = lab_hosts.HostSpec(name="g", host="h", checkout="~/paddle-trt-lab")
    assert remote_command(home, "doctor", [], None, remote_timeout=False) == \
        "cd ~/paddle-trt-lab && invoke doctor --json"


def test_flatten_and_host_differences():
    a = {"items": [{"key": "system.driver_version", "status": "ok", "found": "560.35"}],
         "latency_ms": {"p50": 1.0}, "elapsed_s": 3, "gpus": ["H100"]}
    b = {"items": [{"key": "system.driver_version", "status": "different", "found": "550.1"}],
         "latency_ms": {"p50": 1.0}, "elapsed_s": 9, "gpus": ["H100"], "extra": 1}
    assert flatten_json(a)["items[system.driver_version].found"] == "560.35"
    diffs = {d.key: d.values for d in host_differences({"a": a, "b": b})}
    assert diffs == {"items[system.driver_version].status": {"a": "ok", "b": "different"},
                     "items[system.driver_version].found": {"a": "560.35", "b": "550.1"},
                     "extra": {"a": None, "b": 1}}
    assert list(diffs)[0].startswith("items[system.driver")  # driver rows come first
    assert host_differences({"a": a}) == []
    findings = [{"section": "cuda", "name": "version", "value": "12.6"},
                {"section": "tensorrt", "name": "version", "value": "10.5"}]
    flat = flatten_json({"findings": findings, "rows": [{"v": 1}, {"v": 2}]})
    assert flat == {"findings[cuda/version].section": "cuda",
                    "findings[cuda/version].name": "version",
                    "findings[cuda/version].value": "12.6",
                    "findings[tensorrt/version].section": "tensorrt",
                    "findings[tensorrt/version].name": "version",
                    "findings[tensorrt/version].value": "10.5",
                    "rows[0].v": 1, "rows[1].v": 2}


def test_a_host_that_never_answers_is_abandoned_at_its_deadline(tmp_path, monkeypatch):
    """The local deadline (the last line of defence when even Fabric's timeouts do not
    fire): the network is replaced by a stand-in that blocks for one host."""
    release = threading.Event()

    def fake_run_on_host(spec, command, timeout, holder):
        if spec.name == "stuck":
            release.wait(30)
        return HostOutcome(name=spec.name, address=spec.address, status="ok", exit_code=0,
                           result={"ok": True})

    monkeypatch.setattr(lab_hosts, "run_on_host", fake_run_on_host)
    monkeypatch.setattr(lab_hosts, "GRACE_S", 0.2)
    settings = LabSettings.from_mapping({
        "results_dir": str(tmp_path / "results"),
        "lab": {"connect_timeout": 0.2},
        "hosts": {"stuck": {"host": "127.0.0.1", "timeout": 0.5}, "fine": "127.0.0.1:2"},
    })
    try:
        for parallel in (True, False):
            t0 = time.monotonic()
            run = lab_hosts.run_lab(settings, ["stuck", "fine"], "doctor", parallel=parallel)
            assert time.monotonic() - t0 < 10
            outcome = {o.name: o for o in run.hosts}
            assert outcome["stuck"].status == "timeout"
            assert "abandoned" in outcome["stuck"].reason
            assert outcome["fine"].status == "ok" and not run.ok
            assert (tmp_path / "results" / "lab" / "fine" / "doctor.json").is_file()
            assert not (tmp_path / "results" / "lab" / "stuck" / "doctor.json").exists()
    finally:
        release.set()
