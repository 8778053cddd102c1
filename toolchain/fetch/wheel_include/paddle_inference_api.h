// Declarations of ours for the REAL Paddle Inference 3.x C++ API of the
// paddlepaddle wheel's libpaddle.so (see paddle_analysis_config.h here).
// Tensor and Predictor objects are only ever created by the library and used
// through pointers; their layout stays opaque.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "paddle_analysis_config.h"
#include "paddle_infer_declare.h"

namespace paddle_infer {

using PrecisionType = paddle::AnalysisConfig::Precision;
using Config = paddle::AnalysisConfig;

class PD_INFER_DECL Tensor {
 public:
  Tensor() = delete;
  void Reshape(const std::vector<int>& shape);
  template <typename T>
  void CopyFromCpu(const T* data);
  template <typename T>
  void CopyToCpu(T* data) const;
  std::vector<int> shape() const;
};

class PD_INFER_DECL Predictor {
 public:
  Predictor() = delete;
  std::vector<std::string> GetInputNames();
  std::unique_ptr<Tensor> GetInputHandle(const std::string& name);
  bool Run();
  std::vector<std::string> GetOutputNames();
  std::unique_ptr<Tensor> GetOutputHandle(const std::string& name);
};

PD_INFER_DECL std::shared_ptr<Predictor> CreatePredictor(const Config& config);
PD_INFER_DECL std::string GetVersion();

}  // namespace paddle_infer
