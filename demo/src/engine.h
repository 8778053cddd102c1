// The predictor wrapper: one class over the Paddle Inference 2.x/3.x API
// (paddle_infer::Config / CreatePredictor / Tensor) and the 1.x API
// (paddle::AnalysisConfig / CreatePaddlePredictor / ZeroCopyTensor), chosen at
// configure time (PADDLE_API_1X). Which optional calls a library has
// (EnableMkldnnInt8, the EnableTensorRtEngine generation, ...) also comes from
// CMake, which reads the library's headers; see cmake/PaddleInference.cmake.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model_files.h"
#include "options.h"

namespace demo {

class Engine {
 public:
  // Validates the option combination against the library, builds the config
  // and creates the predictor. Throws DemoError.
  explicit Engine(const Options& opts);
  ~Engine();

  // One batch: input copy (Reshape + CopyFromCpu), Run(), output copy
  // (CopyToCpu) into *output (resized to the output's element count).
  // This is exactly what the programs time.
  void Infer(const float* input, int batch, std::vector<float>* output);

  const ModelFiles& model() const;
  // The config calls made, in order, as text (for the JSON line).
  const std::vector<std::string>& config_calls() const;
  // "2.x" (2.x/3.x API) or "1.x".
  static const char* Api();
  // The library's version as CMake read it from version.txt ("" if unknown).
  static const char* LibraryVersion();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace demo
