// STAND-IN for Paddle Inference 2.x/3.x paddle_tensor.h (tests only).
#pragma once
#include <string>
#include <vector>

#include "paddle_infer_declare.h"

namespace paddle_infer {

enum class DataType { FLOAT32, INT64, INT32, UINT8, INT8, FLOAT16, BOOL, FLOAT64, BFLOAT16 };
enum class PlaceType { kUNK = -1, kCPU, kGPU, kXPU, kNPU, kIPU, kCUSTOM };

class PD_INFER_DECL Tensor {
 public:
  void Reshape(const std::vector<int>& shape);

  template <typename T>
  void CopyFromCpu(const T* data);

  template <typename T>
  void CopyToCpu(T* data) const;

  std::vector<int> shape() const;
  const std::string& name() const;
  DataType type() const;
  PlaceType place() const;

  // stand-in state: a view on the predictor's buffer
  explicit Tensor(void* owner, const std::string& name, bool input);

 protected:
  void* owner_;
  std::string name_;
  bool input_;
};

}  // namespace paddle_infer
