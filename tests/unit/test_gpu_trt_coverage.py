"""What reached TensorRT, read from real Paddle-TRT log lines and real TensorRT
engine-inspector output (tests/fixtures/trt/README.md names each source)."""

from __future__ import annotations

from support import FIXTURES

from toolchain.runners.trt_coverage import parse_trt_output

TRT = FIXTURES / "trt"


def test_paddle_subgraph_log_gives_ops_inside_tensorrt_and_the_mode():
    cov = parse_trt_output((TRT / "paddle-trt-subgraph-log-issue-33482.txt").read_text(),
                           ops_total=40)
    assert cov.subgraph_nodes == [6, 5, 6, 4]
    assert cov.ops_in_trt == 21 and cov.ops_outside_trt == 19
    assert cov.engine_modes == ["FP16"] * 4
    assert cov.engines_built == 4 and cov.engines_loaded == []
    assert "4 TensorRT sub-graph(s), 21 op(s) inside; 19 outside; mode FP16" in cov.summary()


def test_detailed_inspector_json_gives_layer_types_and_precision():
    cov = parse_trt_output((TRT / "trt-inspector-json-pytorch-66683.txt").read_text())
    assert [(lay.name, lay.layer_type, lay.precision) for lay in cov.layers] == [
        ("PWN(PWN(relu_1), add_1)", "PointWiseV2", "FP16")]
    assert cov.precision_counts() == {"FP16": 1}


def test_names_only_inspector_output_lists_layers_without_precision():
    cov = parse_trt_output((TRT / "trt-layer-names-tensorrt-4020.json").read_text())
    assert len(cov.layers) == 3 and all(lay.precision is None for lay in cov.layers)
    assert cov.precision_counts() == {"unknown": 3}


def test_inspector_json_inside_glog_lines_and_a_cached_engine():
    # Paddle prints the inspector JSON through LOG(INFO): the glog prefix of the real log
    # above in front of the real inspector sample; then a second run loads the engine.
    log = (TRT / "paddle-trt-subgraph-log-issue-33482.txt").read_text().splitlines()[0]
    prefix = log.split("]", 1)[0].replace("tensorrt_subgraph_pass.cc:126", "engine.cc:911")
    text = (prefix + "] " + (TRT / "trt-inspector-json-pytorch-66683.txt").read_text()
            + "\n" + prefix.replace("engine.cc:911", "tensorrt_subgraph_pass.cc:434")
            + "] Load TRT Optimized Info from /lab/trt_cache/k/trt_serialized_123\n")
    cov = parse_trt_output(text)
    assert cov.layers[0].precision == "FP16"
    assert cov.engines_loaded == ["/lab/trt_cache/k/trt_serialized_123"]
    assert cov.engines_built == 0


def test_nothing_reached_tensorrt():
    cov = parse_trt_output("I0602 analysis_predictor.cc:1] ir_graph_clean_pass\n", ops_total=7)
    assert cov.ops_in_trt == 0 and cov.ops_outside_trt == 7 and cov.layers == []
    assert cov.to_dict()["ops_outside_trt"] == 7
