// STAND-IN for Paddle Inference 1.8 paddle_api.h (tests only): ZeroCopyTensor,
// PaddlePredictor and the CreatePaddlePredictor templates.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace paddle {

enum PaddleDType { FLOAT32, INT64, INT32, UINT8 };
enum class PaddlePlace { kUNK = -1, kCPU, kGPU };
enum class PaddleEngineKind { kNative = 0, kAutoMixedTensorRT, kAnalysis };

class ZeroCopyTensor {
 public:
  void Reshape(const std::vector<int>& shape);

  template <typename T>
  void copy_from_cpu(const T* data);

  template <typename T>
  void copy_to_cpu(T* data);

  std::vector<int> shape() const;
  const std::string& name() const { return name_; }

  // stand-in state: a view on the predictor's buffer
  ZeroCopyTensor(void* owner, const std::string& name, bool input)
      : owner_(owner), name_(name), input_(input) {}

 protected:
  void* owner_;
  std::string name_;
  bool input_;
};

class PaddlePredictor {
 public:
  struct Config;
  PaddlePredictor() = default;
  PaddlePredictor(const PaddlePredictor&) = delete;
  PaddlePredictor& operator=(const PaddlePredictor&) = delete;

  virtual std::vector<std::string> GetInputNames() { return {}; }
  virtual std::vector<std::string> GetOutputNames() { return {}; }
  virtual std::unique_ptr<ZeroCopyTensor> GetInputTensor(const std::string& name) {
    return nullptr;
  }
  virtual std::unique_ptr<ZeroCopyTensor> GetOutputTensor(const std::string& name) {
    return nullptr;
  }
  virtual bool ZeroCopyRun() { return false; }
  virtual ~PaddlePredictor() = default;
};

struct AnalysisConfig;

template <typename ConfigT>
std::unique_ptr<PaddlePredictor> CreatePaddlePredictor(const ConfigT& config);

template <typename ConfigT, PaddleEngineKind engine>
std::unique_ptr<PaddlePredictor> CreatePaddlePredictor(const ConfigT& config);

template <>
std::unique_ptr<PaddlePredictor> CreatePaddlePredictor<AnalysisConfig>(
    const AnalysisConfig& config);

template <>
std::unique_ptr<PaddlePredictor>
CreatePaddlePredictor<AnalysisConfig, PaddleEngineKind::kAnalysis>(
    const AnalysisConfig& config);

int PaddleDtypeSize(PaddleDType dtype);
std::string get_version();

}  // namespace paddle
