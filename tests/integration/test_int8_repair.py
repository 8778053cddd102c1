"""The repair loop: bisection (pure), then for real on a model planted to break in INT8."""

from __future__ import annotations

import json
import math

import pytest

from support.int8 import plant_outlier
from toolchain.errors import LabError
from toolchain.int8.algos import algos_to_try, best_trial
from toolchain.int8.compare import compare_layers
from toolchain.int8.repair import repair_int8, smallest_meeting
from toolchain.models.layout import find_model_files
from toolchain.quantize import ALGOS


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 17, 100])
def test_bisection_finds_the_smallest_k_asking_about_log2_n_times(n):
    for answer in range(1, n + 1):
        asked = []

        def meets(k):
            asked.append(k)
            return k >= answer

        assert smallest_meeting(n, meets) == answer
        assert len(asked) == len(set(asked)) <= math.ceil(math.log2(n)) + 1


def test_bisection_says_none_when_even_n_does_not_meet():
    asked = []
    assert smallest_meeting(6, lambda k: asked.append(k) or False) is None
    assert 6 in asked and smallest_meeting(0, lambda k: True) is None


def test_algo_auto_tries_every_algorithm_and_keeps_the_smallest_drop():
    assert algos_to_try("auto") == ALGOS and algos_to_try("hist") == ("hist",)
    with pytest.raises(LabError, match="unknown --algo 'fancy'"):
        algos_to_try("fancy")
    trials = [{"algo": "abs_max", "drop": 3.0}, {"algo": "avg", "drop": 1.0},
              {"algo": "hist", "drop": 1.0}]
    assert best_trial(trials)["algo"] == "avg"


@pytest.fixture(scope="module")
def planted(trained_lab, tmp_path_factory):
    """The trained classifier with conv2d_2's input planted with a 1000x channel."""
    out = tmp_path_factory.mktemp("planted") / "fp32"
    weight = plant_outlier(trained_lab.fp32, out, "conv2d_2")
    return out, weight


@pytest.mark.slow
def test_the_repair_loop_finds_the_planted_op_and_keeps_it_in_fp32(trained_lab, planted):
    fp32, weight = planted
    out = fp32.parent / "int8"
    r = repair_int8(trained_lab.settings, fp32, trained_lab.train, trained_lab.val, out,
                    max_top1_drop=2.0, algo="abs_max", batch_size=10, batch_nums=3,
                    limit=100, latency_repeats=10)
    assert r.fp32_top1 >= 0.8                             # planting kept the FP32 function
    assert r.attempts[0].kept_fp32 == [] and r.attempts[0].drop > 30   # INT8 broke it
    assert r.ranking[0]["weight"] == weight == "conv2d_2.w_0"
    assert r.met and [k.weight for k in r.kept] == [weight]
    assert r.drop <= 2.0 and r.quantizations <= math.log2(len(r.ranking)) + 2
    assert r.kept[0].latency_cost_ms is not None
    assert set(r.latency_p50_ms) == {"fp32", "int8_full", "repaired"}
    files = find_model_files(r.output)
    assert r.output == out and files.quantized()
    assert files.record()["kept_fp32"] == [weight]
    program = files.program.read_bytes()
    assert b"conv2d_2.w_0.quantized" not in program and b"conv2d_1.w_0.quantized" in program
    assert not list(out.parent.glob(".int8.*"))           # scratch folder removed
    # the planted op is also what compare-layers shows first on the written model's twin
    compared = compare_layers(fp32, out, trained_lab.val, images=8)
    assert weight not in compared.ranking and compared.total_layers == 4


@pytest.mark.slow
def test_repair_cli_json_with_algo_auto_keeps_the_best_algorithm(trained_lab, planted,
                                                                 invoke_cli):
    fp32, _ = planted
    out = fp32.parent / "int8_auto"
    proc = invoke_cli("repair-int8", "--model-dir", str(fp32), "--out", str(out), "--algo",
                      "auto", "--batch-nums", "1", "--limit", "40", "--max-top1-drop", "100",
                      "--json", env=trained_lab.env(), timeout=900)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert [t["algo"] for t in r["algo_trials"]] == list(ALGOS)
    best = min(r["algo_trials"], key=lambda t: t["drop"])
    assert r["algo"] == best["algo"] and r["drop"] == best["drop"]
    assert r["met"] and r["kept"] == [] and r["quantizations"] == 0
    assert find_model_files(out).record()["algo"] == r["algo"]


@pytest.mark.slow
def test_repair_bad_input(trained_lab, invoke_cli):
    proc = invoke_cli("repair-int8", "--max-top1-drop", "-1", env=trained_lab.env())
    assert proc.returncode != 0 and "--max-top1-drop must be a number from 0 to 100" in \
        proc.stderr
    with pytest.raises(LabError, match="already quantized"):
        repair_int8(trained_lab.settings, trained_lab.int8, trained_lab.train,
                    trained_lab.val)
    with pytest.raises(LabError, match="unknown --algo"):
        repair_int8(trained_lab.settings, trained_lab.fp32, trained_lab.train,
                    trained_lab.val, algo="best")
