// STAND-IN implementation of the Paddle Inference API subset the demo uses
// (tests only). Compiled against include_2x/ (libpaddle_inference.so) or, with
// STANDIN_API_1X, against include_1x/ (libpaddle_fluid.so). It runs the
// deterministic classifier of standin_model.cc on the CPU; GPU/TensorRT calls
// are recorded (PADDLE_STANDIN_TRACE=<file> appends them) and checked for
// consistency, not executed.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "paddle_inference_api.h"
#include "standin_model.h"

namespace {

struct PredictorImpl {
  standin::Classifier clf;
  std::vector<int> in_shape;
  std::vector<float> in, out;
  std::vector<int> out_shape;
  bool input_set = false;
  bool trt = false;
  int trt_max_batch = 0;
};

template <typename... A>
std::string Call(const char* name, A... args) {
  std::ostringstream ss;
  ss << name << "(";
  int i = 0;
  ((ss << (i++ ? ", " : "") << args), ...);
  ss << ")";
  return ss.str();
}

PredictorImpl* Load(const paddle::AnalysisConfig& config) {
  auto impl = std::make_unique<PredictorImpl>();
  if (!config.model_dir_.empty()) {
    impl->clf = standin::LoadClassifier(config.model_dir_ + "/__model__", "", config.model_dir_);
  } else if (!config.prog_file_.empty()) {
    impl->clf = standin::LoadClassifier(config.prog_file_, config.params_file_, "");
  } else {
    throw std::runtime_error("(InvalidArgument) no model set: call SetModel first");
  }
  impl->trt = config.use_trt_;
  for (const auto& c : config.calls_)
    if (c.rfind("EnableTensorRtEngine(", 0) == 0) {
      int ws = 0;
      std::sscanf(c.c_str(), "EnableTensorRtEngine(%d, %d", &ws, &impl->trt_max_batch);
    }
  std::vector<std::string> trace = config.calls_;
  trace.push_back("CreatePredictor");
  standin::Trace(trace);
  return impl.release();
}

void SetShape(PredictorImpl* p, const std::vector<int>& shape) {
  p->in_shape = shape;
  size_t n = 1;
  for (int d : shape) {
    if (d <= 0) throw std::runtime_error("(InvalidArgument) bad input shape");
    n *= static_cast<size_t>(d);
  }
  p->in.assign(n, 0.f);
  p->input_set = false;
}

void CopyIn(PredictorImpl* p, const float* data) {
  if (p->in_shape.empty()) throw std::runtime_error("(PreconditionNotMet) Reshape the input first");
  std::memcpy(p->in.data(), data, p->in.size() * sizeof(float));
  p->input_set = true;
}

bool RunImpl(PredictorImpl* p) {
  const auto& s = p->in_shape;
  if (!p->input_set) throw std::runtime_error("(PreconditionNotMet) input not copied");
  if (s.size() != 4 || s[1] != 3 || s[2] != 224 || s[3] != 224) {
    throw std::runtime_error("(InvalidArgument) stand-in classifier expects [N,3,224,224] input");
  }
  if (p->trt && s[0] > p->trt_max_batch) {
    throw std::runtime_error("(InvalidArgument) batch " + std::to_string(s[0]) +
                             " exceeds TensorRT max_batch_size " + std::to_string(p->trt_max_batch));
  }
  p->out_shape = {s[0], p->clf.num_classes};
  p->out.assign(static_cast<size_t>(s[0]) * p->clf.num_classes, 0.f);
  standin::Classify(p->clf, p->in.data(), s[0], p->out.data());
  return true;
}

void CopyOut(const PredictorImpl* p, float* data) {
  std::memcpy(data, p->out.data(), p->out.size() * sizeof(float));
}

const char* kInput = "x";
const char* kOutput = "save_infer_model/scale_0.tmp_0";

}  // namespace

namespace paddle {

AnalysisConfig::AnalysisConfig() = default;
AnalysisConfig::AnalysisConfig(const AnalysisConfig& other) = default;
AnalysisConfig::AnalysisConfig(const std::string& model_dir) { SetModel(model_dir); }
AnalysisConfig::AnalysisConfig(const std::string& prog_file, const std::string& params_file) {
  SetModel(prog_file, params_file);
}
void AnalysisConfig::SetModel(const std::string& model_dir) {
  model_dir_ = model_dir;
  calls_.push_back(Call("SetModel", model_dir));
}
void AnalysisConfig::SetModel(const std::string& prog, const std::string& params) {
  prog_file_ = prog;
  params_file_ = params;
  calls_.push_back(Call("SetModel", prog, params));
}
const std::string& AnalysisConfig::model_dir() const { return model_dir_; }
const std::string& AnalysisConfig::prog_file() const { return prog_file_; }
const std::string& AnalysisConfig::params_file() const { return params_file_; }
void AnalysisConfig::DisableGpu() {
  use_gpu_ = false;
  calls_.push_back("DisableGpu()");
}
bool AnalysisConfig::use_gpu() const { return use_gpu_; }
bool AnalysisConfig::tensorrt_engine_enabled() const { return use_trt_; }
void AnalysisConfig::SetOptimCacheDir(const std::string& d) {
  opt_cache_dir_ = d;
  calls_.push_back(Call("SetOptimCacheDir", d));
}
void AnalysisConfig::SwitchIrOptim(int x) {
  ir_optim_ = x;
  calls_.push_back(Call("SwitchIrOptim", x));
}
void AnalysisConfig::DisableGlogInfo() { calls_.push_back("DisableGlogInfo()"); }
void AnalysisConfig::SetCpuMathLibraryNumThreads(int n) {
  threads_ = n;
  calls_.push_back(Call("SetCpuMathLibraryNumThreads", n));
}
int AnalysisConfig::cpu_math_library_num_threads() const { return threads_; }
void AnalysisConfig::EnableMKLDNN() {
  use_mkldnn_ = true;
  calls_.push_back("EnableMKLDNN()");
}
bool AnalysisConfig::mkldnn_enabled() const { return use_mkldnn_; }

#ifdef STANDIN_API_1X
void AnalysisConfig::EnableUseGpu(uint64_t mb, int device_id) {
  use_gpu_ = true;
  calls_.push_back(Call("EnableUseGpu", mb, device_id));
}
void AnalysisConfig::EnableTensorRtEngine(int ws, int max_batch, int min_sub, Precision prec,
                                          bool use_static, bool use_calib) {
  if (!use_gpu_) throw std::runtime_error("(PreconditionNotMet) call EnableUseGpu() first");
  use_trt_ = true;
  calls_.push_back(Call("EnableTensorRtEngine", ws, max_batch, min_sub, static_cast<int>(prec),
                        use_static, use_calib));
}
void AnalysisConfig::SwitchUseFeedFetchOps(int x) {
  feed_fetch_ops_ = x;
  calls_.push_back(Call("SwitchUseFeedFetchOps", x));
}
bool AnalysisConfig::use_feed_fetch_ops_enabled() const { return feed_fetch_ops_; }
void AnalysisConfig::SwitchIrDebug(int x) { calls_.push_back(Call("SwitchIrDebug", x)); }
void AnalysisConfig::EnableMemoryOptim() { calls_.push_back("EnableMemoryOptim()"); }
#else
void AnalysisConfig::EnableUseGpu(uint64_t mb, int device_id, Precision p) {
  use_gpu_ = true;
  calls_.push_back(Call("EnableUseGpu", mb, device_id, static_cast<int>(p)));
}
void AnalysisConfig::EnableTensorRtEngine(int64_t ws, int max_batch, int min_sub, Precision prec,
                                          bool use_static, bool use_calib, bool cuda_graph) {
  if (!use_gpu_) throw std::runtime_error("(PreconditionNotMet) call EnableUseGpu() first");
  use_trt_ = true;
  calls_.push_back(Call("EnableTensorRtEngine", ws, max_batch, min_sub, static_cast<int>(prec),
                        use_static, use_calib, cuda_graph));
}
void AnalysisConfig::EnableNewIR(bool x) { calls_.push_back(Call("EnableNewIR", x)); }
void AnalysisConfig::EnableNewExecutor(bool x) { calls_.push_back(Call("EnableNewExecutor", x)); }
void AnalysisConfig::SwitchIrDebug(int x, const std::vector<std::string>&) {
  calls_.push_back(Call("SwitchIrDebug", x));
}
void AnalysisConfig::EnableMemoryOptim(bool x) { calls_.push_back(Call("EnableMemoryOptim", x)); }
void AnalysisConfig::DisableMKLDNN() {
  use_mkldnn_ = false;
  calls_.push_back("DisableMKLDNN()");
}
void AnalysisConfig::EnableMkldnnInt8(const std::unordered_set<std::string>& ops) {
  mkldnn_int8_ = true;
  calls_.push_back(Call("EnableMkldnnInt8", ops.size()));
}
bool AnalysisConfig::mkldnn_int8_enabled() const { return mkldnn_int8_; }
#endif

}  // namespace paddle

#ifdef STANDIN_API_1X
// ---- 1.x: PaddlePredictor + ZeroCopyTensor ------------------------------------
namespace paddle {
namespace {
class StandinPredictor : public PaddlePredictor {
 public:
  explicit StandinPredictor(const AnalysisConfig& config) : impl_(Load(config)) {
    if (config.use_feed_fetch_ops_enabled()) feed_fetch_ = true;
  }
  ~StandinPredictor() override { delete impl_; }
  std::vector<std::string> GetInputNames() override { return {kInput}; }
  std::vector<std::string> GetOutputNames() override { return {kOutput}; }
  std::unique_ptr<ZeroCopyTensor> GetInputTensor(const std::string& name) override {
    if (name != kInput) throw std::runtime_error("(NotFound) no input named " + name);
    return std::unique_ptr<ZeroCopyTensor>(new ZeroCopyTensor(impl_, name, true));
  }
  std::unique_ptr<ZeroCopyTensor> GetOutputTensor(const std::string& name) override {
    if (name != kOutput) throw std::runtime_error("(NotFound) no output named " + name);
    return std::unique_ptr<ZeroCopyTensor>(new ZeroCopyTensor(impl_, name, false));
  }
  bool ZeroCopyRun() override {
    // Like 1.x: zero-copy needs the feed/fetch ops switched off.
    if (feed_fetch_) throw std::runtime_error(
        "(PreconditionNotMet) ZeroCopyRun needs SwitchUseFeedFetchOps(false)");
    return RunImpl(impl_);
  }

 private:
  PredictorImpl* impl_;
  bool feed_fetch_ = false;
};
}  // namespace

void ZeroCopyTensor::Reshape(const std::vector<int>& shape) {
  if (!input_) throw std::runtime_error("(PreconditionNotMet) cannot reshape an output");
  SetShape(static_cast<PredictorImpl*>(owner_), shape);
}
template <>
void ZeroCopyTensor::copy_from_cpu<float>(const float* data) {
  CopyIn(static_cast<PredictorImpl*>(owner_), data);
}
template <>
void ZeroCopyTensor::copy_to_cpu<float>(float* data) {
  CopyOut(static_cast<PredictorImpl*>(owner_), data);
}
std::vector<int> ZeroCopyTensor::shape() const {
  auto* p = static_cast<PredictorImpl*>(owner_);
  return input_ ? p->in_shape : p->out_shape;
}

template <>
std::unique_ptr<PaddlePredictor> CreatePaddlePredictor<AnalysisConfig, PaddleEngineKind::kAnalysis>(
    const AnalysisConfig& config) {
  return std::unique_ptr<PaddlePredictor>(new StandinPredictor(config));
}
template <>
std::unique_ptr<PaddlePredictor> CreatePaddlePredictor<AnalysisConfig>(const AnalysisConfig& config) {
  return CreatePaddlePredictor<AnalysisConfig, PaddleEngineKind::kAnalysis>(config);
}
std::string get_version() { return "1.8.5-standin"; }
}  // namespace paddle

#else
// ---- 2.x/3.x: paddle_infer::Predictor + Tensor --------------------------------
namespace paddle_infer {

Tensor::Tensor(void* owner, const std::string& name, bool input)
    : owner_(owner), name_(name), input_(input) {}
void Tensor::Reshape(const std::vector<int>& shape) {
  if (!input_) throw std::runtime_error("(PreconditionNotMet) cannot reshape an output");
  SetShape(static_cast<PredictorImpl*>(owner_), shape);
}
template <>
PD_INFER_DECL void Tensor::CopyFromCpu<float>(const float* data) {
  CopyIn(static_cast<PredictorImpl*>(owner_), data);
}
template <>
PD_INFER_DECL void Tensor::CopyToCpu<float>(float* data) const {
  CopyOut(static_cast<PredictorImpl*>(owner_), data);
}
std::vector<int> Tensor::shape() const {
  auto* p = static_cast<PredictorImpl*>(owner_);
  return input_ ? p->in_shape : p->out_shape;
}
const std::string& Tensor::name() const { return name_; }
DataType Tensor::type() const { return DataType::FLOAT32; }
PlaceType Tensor::place() const { return PlaceType::kCPU; }

Predictor::Predictor(const Config& config) : impl_(Load(config)) {}
Predictor::~Predictor() { delete static_cast<PredictorImpl*>(impl_); }
std::vector<std::string> Predictor::GetInputNames() { return {kInput}; }
std::vector<std::string> Predictor::GetOutputNames() { return {kOutput}; }
std::unique_ptr<Tensor> Predictor::GetInputHandle(const std::string& name) {
  if (name != kInput) throw std::runtime_error("(NotFound) no input named " + name);
  return std::unique_ptr<Tensor>(new Tensor(impl_, name, true));
}
std::unique_ptr<Tensor> Predictor::GetOutputHandle(const std::string& name) {
  if (name != kOutput) throw std::runtime_error("(NotFound) no output named " + name);
  return std::unique_ptr<Tensor>(new Tensor(impl_, name, false));
}
bool Predictor::Run() { return RunImpl(static_cast<PredictorImpl*>(impl_)); }
void Predictor::ClearIntermediateTensor() {}
uint64_t Predictor::TryShrinkMemory() { return 0; }

std::shared_ptr<Predictor> CreatePredictor(const Config& config) {
  return std::make_shared<Predictor>(config);
}
std::string GetVersion() { return "3.0.0-standin"; }
std::tuple<int, int, int> GetTrtCompileVersion() { return {0, 0, 0}; }
std::tuple<int, int, int> GetTrtRuntimeVersion() { return {0, 0, 0}; }

}  // namespace paddle_infer
#endif
