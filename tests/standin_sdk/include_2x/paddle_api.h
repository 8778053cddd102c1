// STAND-IN for Paddle Inference 2.x/3.x paddle_api.h (tests only).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "paddle_infer_declare.h"
#include "paddle_tensor.h"

namespace paddle {
// In 2.x ZeroCopyTensor is kept as a subclass of paddle_infer::Tensor.
class PD_INFER_DECL ZeroCopyTensor : public paddle_infer::Tensor {
 public:
  using paddle_infer::Tensor::Tensor;
};
}  // namespace paddle
