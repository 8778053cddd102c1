// STAND-IN for Paddle Inference 2.x/3.x paddle_inference_api.h (tests only).
// The demo compiles against this exactly as against the real header.
#pragma once
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "paddle_analysis_config.h"
#include "paddle_api.h"
#include "paddle_infer_declare.h"
#include "paddle_tensor.h"

namespace paddle_infer {

using PrecisionType = paddle::AnalysisConfig::Precision;
using Config = paddle::AnalysisConfig;

class PD_INFER_DECL Predictor {
 public:
  Predictor() = delete;
  ~Predictor();
  explicit Predictor(const Config& config);

  std::vector<std::string> GetInputNames();
  std::unique_ptr<Tensor> GetInputHandle(const std::string& name);
  bool Run();
  std::vector<std::string> GetOutputNames();
  std::unique_ptr<Tensor> GetOutputHandle(const std::string& name);
  void ClearIntermediateTensor();
  uint64_t TryShrinkMemory();

 private:
  void* impl_;
};

PD_INFER_DECL std::shared_ptr<Predictor> CreatePredictor(const Config& config);
PD_INFER_DECL std::string GetVersion();
PD_INFER_DECL std::tuple<int, int, int> GetTrtCompileVersion();
PD_INFER_DECL std::tuple<int, int, int> GetTrtRuntimeVersion();

}  // namespace paddle_infer
