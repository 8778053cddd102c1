#include "engine.h"

#include <climits>
#include <cstdio>
#include <sstream>

#include "demo_error.h"
#include "paddle_inference_api.h"

// Defaults for a build without this project's CMakeLists (a 3.x library).
#ifndef PADDLE_API_1X
#define PADDLE_API_1X 0
#endif
#ifndef PADDLE_TRT_SIGNATURE  // 1: int workspace (<=2.3), 2: int64_t (2.4), 3: + use_cuda_graph
#define PADDLE_TRT_SIGNATURE 3
#endif
#ifndef PADDLE_HAS_ENABLE_MKLDNN
#define PADDLE_HAS_ENABLE_MKLDNN 1
#endif
#ifndef PADDLE_HAS_ENABLE_ONEDNN
#define PADDLE_HAS_ENABLE_ONEDNN 0
#endif
#ifndef PADDLE_HAS_DISABLE_MKLDNN
#define PADDLE_HAS_DISABLE_MKLDNN 0
#endif
#ifndef PADDLE_HAS_MKLDNN_INT8
#define PADDLE_HAS_MKLDNN_INT8 1
#endif
#ifndef PADDLE_HAS_ONEDNN_INT8
#define PADDLE_HAS_ONEDNN_INT8 0
#endif
#ifndef PADDLE_HAS_ENABLE_NEW_IR
#define PADDLE_HAS_ENABLE_NEW_IR 0
#endif
#ifndef PADDLE_HAS_SET_OPTIM_CACHE_DIR
#define PADDLE_HAS_SET_OPTIM_CACHE_DIR 1
#endif
#ifndef PADDLE_HAS_DISABLE_GLOG_INFO
#define PADDLE_HAS_DISABLE_GLOG_INFO 1
#endif
#ifndef PADDLE_LIB_WITH_GPU  // -1 unknown, 0 no, 1 yes (version.txt)
#define PADDLE_LIB_WITH_GPU -1
#endif
#ifndef PADDLE_LIB_WITH_ONEDNN
#define PADDLE_LIB_WITH_ONEDNN -1
#endif
#ifndef PADDLE_LIB_VERSION
#define PADDLE_LIB_VERSION ""
#endif

namespace demo {

#if PADDLE_API_1X
using ConfigT = paddle::AnalysisConfig;
using PrecisionT = paddle::AnalysisConfig::Precision;
using PredictorPtr = std::unique_ptr<paddle::PaddlePredictor>;
using TensorPtr = std::unique_ptr<paddle::ZeroCopyTensor>;
#else
using ConfigT = paddle_infer::Config;
using PrecisionT = paddle_infer::PrecisionType;
using PredictorPtr = std::shared_ptr<paddle_infer::Predictor>;
using TensorPtr = std::unique_ptr<paddle_infer::Tensor>;
#endif

struct Engine::Impl {
  ModelFiles model;
  std::vector<std::string> calls;
  PredictorPtr predictor;
  TensorPtr input, output;
  std::string input_name, output_name;
  int batch = 0;
};

namespace {

template <typename... A>
std::string Text(const char* name, const A&... args) {
  std::ostringstream ss;
  ss << name << "(";
  int i = 0;
  ((ss << (i++ ? ", " : "") << args), ...);
  ss << ")";
  return ss.str();
}

void Note(const Options& o, const std::string& msg) {
  std::fprintf(stderr, "%s: note: %s\n", o.program_name.c_str(), msg.c_str());
}

void CheckCombination(const Options& o, const ModelFiles& m) {
  const bool gpu = o.device == Device::kGpu;
  if (!gpu && o.precision == Precision::kFp16) {
    throw DemoError("--precision fp16 runs only on GPU through TensorRT",
                    "use --device gpu, or --precision fp32|int8 on CPU", 2);
  }
  if (gpu && o.precision == Precision::kBf16) {
    throw DemoError("--precision bf16 runs on the CPU through oneDNN",
                    "on the GPU use --precision fp16 or int8 with TensorRT", 2);
  }
  if (gpu && !o.use_trt && o.precision != Precision::kFp32) {
    throw DemoError(std::string("--precision ") + Name(o.precision) + " on GPU needs TensorRT",
                    "drop --use_trt=false", 2);
  }
  if (gpu && PADDLE_LIB_WITH_GPU == 0) {
    throw DemoError("this Paddle Inference library was built without GPU support "
                    "(version.txt: WITH_GPU: OFF)",
                    "use --device cpu, or build the demo against a GPU library");
  }
  if (!gpu && (o.precision == Precision::kInt8 || o.precision == Precision::kBf16) &&
      !o.use_onednn) {
    throw DemoError(std::string(Name(o.precision)) + " on CPU runs through oneDNN",
                    "drop --use_onednn=false", 2);
  }
  if (!gpu && o.precision == Precision::kInt8 && PADDLE_LIB_WITH_ONEDNN == 0) {
    throw DemoError("this library was built without oneDNN (version.txt: WITH_MKLDNN/WITH_ONEDNN "
                    "OFF), so it cannot run INT8 on CPU",
                    "use a library built with oneDNN, or --device gpu");
  }
  if (m.layout == "json" && PADDLE_API_1X) {
    throw DemoError("PIR .json models need Paddle Inference 3.x; this demo is built against a "
                    "1.x library",
                    "export the model in the .pdmodel format, or use a 3.x library");
  }
  if (gpu && o.use_trt && m.layout == "json") {
    Note(o, "a PIR .json model goes through EnableTensorRtEngine only where this Paddle version "
            "supports it; Paddle 3.x's PIR-TRT path is Python-only (paddle.tensorrt.convert)");
  }
  if (o.use_calib && o.precision != Precision::kInt8) Note(o, "--use_calib matters only for --precision int8");
}

PrecisionT TrtPrecision(Precision p) {
  switch (p) {
    case Precision::kInt8: return PrecisionT::kInt8;
    case Precision::kFp16: return PrecisionT::kHalf;
    case Precision::kFp32:
    case Precision::kBf16: break;
  }
  return PrecisionT::kFloat32;
}

}  // namespace

Engine::Engine(const Options& o) : impl_(new Impl) {
  Impl& s = *impl_;
  s.model = FindModelFiles(o);
  CheckCombination(o, s.model);
  ConfigT config;
  auto& calls = s.calls;
  if (s.model.dir.empty()) {
    config.SetModel(s.model.prog_file, s.model.params_file);
    calls.push_back(Text("SetModel", s.model.prog_file, s.model.params_file));
  } else {
    config.SetModel(s.model.dir);
    calls.push_back(Text("SetModel", s.model.dir));
  }
#if PADDLE_HAS_ENABLE_NEW_IR
  if (s.model.layout == "json") {
    config.EnableNewIR(true);
    calls.push_back("EnableNewIR(1)");
  }
#endif
  if (o.device == Device::kGpu) {
    config.EnableUseGpu(static_cast<uint64_t>(o.gpu_mem_mb), o.gpu_id);
    calls.push_back(Text("EnableUseGpu", o.gpu_mem_mb, o.gpu_id));
    if (o.use_trt) {
      const int64_t workspace = o.workspace_mb * (int64_t{1} << 20);
      const bool use_static = !o.trt_cache_dir.empty();
      const bool use_calib = o.precision == Precision::kInt8 && o.use_calib;
      const PrecisionT prec = TrtPrecision(o.precision);
#if PADDLE_TRT_SIGNATURE == 1
      const int ws = workspace > INT_MAX ? INT_MAX : static_cast<int>(workspace);
      config.EnableTensorRtEngine(ws, o.batch_size, o.min_subgraph_size, prec, use_static,
                                  use_calib);
      calls.push_back(Text("EnableTensorRtEngine", ws, o.batch_size, o.min_subgraph_size,
                           Name(o.precision), use_static, use_calib));
#elif PADDLE_TRT_SIGNATURE == 2
      config.EnableTensorRtEngine(workspace, o.batch_size, o.min_subgraph_size, prec, use_static,
                                  use_calib);
      calls.push_back(Text("EnableTensorRtEngine", workspace, o.batch_size, o.min_subgraph_size,
                           Name(o.precision), use_static, use_calib));
#else
      config.EnableTensorRtEngine(workspace, o.batch_size, o.min_subgraph_size, prec, use_static,
                                  use_calib, /*use_cuda_graph=*/false);
      calls.push_back(Text("EnableTensorRtEngine", workspace, o.batch_size, o.min_subgraph_size,
                           Name(o.precision), use_static, use_calib, false));
#endif
      if (use_static) {
#if PADDLE_HAS_SET_OPTIM_CACHE_DIR
        config.SetOptimCacheDir(o.trt_cache_dir);
        calls.push_back(Text("SetOptimCacheDir", o.trt_cache_dir));
#else
        Note(o, "this library has no SetOptimCacheDir: serialized engines go to the model "
                "folder's _opt_cache instead of --trt_cache_dir");
#endif
      }
    }
  } else {
    config.DisableGpu();
    calls.push_back("DisableGpu()");
    config.SetCpuMathLibraryNumThreads(o.threads);
    calls.push_back(Text("SetCpuMathLibraryNumThreads", o.threads));
    if (o.use_onednn) {
      // The oneDNN-named calls where the library has them: Paddle 3.x keeps the
      // MKLDNN names but logs them as deprecated (seen in 3.3.1).
#if PADDLE_HAS_ENABLE_ONEDNN
      config.EnableONEDNN();
      calls.push_back("EnableONEDNN()");
#elif PADDLE_HAS_ENABLE_MKLDNN
      config.EnableMKLDNN();
      calls.push_back("EnableMKLDNN()");
#endif
      if (o.precision == Precision::kInt8) {
#if PADDLE_HAS_ONEDNN_INT8
        config.EnableOnednnInt8();
        calls.push_back("EnableOnednnInt8()");
#elif PADDLE_HAS_MKLDNN_INT8
        config.EnableMkldnnInt8();
        calls.push_back("EnableMkldnnInt8()");
#else
        Note(o, "this library has no EnableMkldnnInt8 (Paddle < 2.3): INT8 on CPU runs only if "
                "the model was converted for oneDNN beforehand (save_quant_model.py)");
#endif
      } else if (o.precision == Precision::kBf16) {
#if PADDLE_HAS_ONEDNN_BF16
        config.EnableOnednnBfloat16();
        calls.push_back("EnableOnednnBfloat16()");
#elif PADDLE_HAS_MKLDNN_BF16
        config.EnableMkldnnBfloat16();
        calls.push_back("EnableMkldnnBfloat16()");
#else
        throw DemoError("this library has no EnableMkldnnBfloat16 (Paddle < 2.1)",
                        "use a newer library, or --precision fp32");
#endif
      }
    } else {
#if PADDLE_HAS_DISABLE_MKLDNN
      config.DisableMKLDNN();  // 3.x enables oneDNN by default
      calls.push_back("DisableMKLDNN()");
#endif
    }
  }
  config.SwitchIrOptim(o.ir_optim);
  calls.push_back(Text("SwitchIrOptim", o.ir_optim ? 1 : 0));
#if PADDLE_API_1X
  config.SwitchUseFeedFetchOps(false);  // zero-copy tensors need the feed/fetch ops off
  calls.push_back("SwitchUseFeedFetchOps(0)");
#endif
#if PADDLE_HAS_DISABLE_GLOG_INFO
  if (!o.glog_info) {
    config.DisableGlogInfo();
    calls.push_back("DisableGlogInfo()");
  }
#endif
  try {
#if PADDLE_API_1X
    s.predictor = paddle::CreatePaddlePredictor(config);
    calls.push_back("CreatePaddlePredictor");
#else
    s.predictor = paddle_infer::CreatePredictor(config);
    calls.push_back("CreatePredictor");
#endif
    if (!s.predictor) throw std::runtime_error("the predictor is null");
    auto inputs = s.predictor->GetInputNames();
    auto outputs = s.predictor->GetOutputNames();
    if (inputs.empty() || outputs.empty()) throw std::runtime_error("the model has no inputs/outputs");
    s.input_name = inputs[0];
    s.output_name = outputs[0];
#if PADDLE_API_1X
    s.input = s.predictor->GetInputTensor(s.input_name);
#else
    s.input = s.predictor->GetInputHandle(s.input_name);
#endif
  } catch (const DemoError&) {
    throw;
  } catch (const std::exception& e) {
    throw DemoError(std::string("Paddle Inference could not load the model: ") + e.what(),
                    "check that the model files are an exported inference model that this "
                    "Paddle version (" + std::string(PADDLE_LIB_VERSION) + ") can read");
  }
}

Engine::~Engine() = default;

void Engine::Infer(const float* data, int batch, std::vector<float>* output) {
  Impl& s = *impl_;
  try {
    if (batch != s.batch) {
      s.input->Reshape({batch, 3, 224, 224});
      s.batch = batch;
    }
#if PADDLE_API_1X
    s.input->copy_from_cpu(data);
    if (!s.predictor->ZeroCopyRun()) throw std::runtime_error("ZeroCopyRun() returned false");
    if (!s.output) s.output = s.predictor->GetOutputTensor(s.output_name);
#else
    s.input->CopyFromCpu(data);
    if (!s.predictor->Run()) throw std::runtime_error("Run() returned false");
    if (!s.output) s.output = s.predictor->GetOutputHandle(s.output_name);
#endif
    size_t numel = 1;
    for (int d : s.output->shape()) numel *= static_cast<size_t>(d);
    output->resize(numel);
#if PADDLE_API_1X
    s.output->copy_to_cpu(output->data());
#else
    s.output->CopyToCpu(output->data());
#endif
  } catch (const DemoError&) {
    throw;
  } catch (const std::exception& e) {
    throw DemoError(std::string("inference failed: ") + e.what(),
                    "the model must take one float32 input of shape [N,3,224,224]");
  }
}

const ModelFiles& Engine::model() const { return impl_->model; }
const std::vector<std::string>& Engine::config_calls() const { return impl_->calls; }
const char* Engine::Api() { return PADDLE_API_1X ? "1.x" : "2.x"; }
const char* Engine::LibraryVersion() { return PADDLE_LIB_VERSION; }

}  // namespace demo
