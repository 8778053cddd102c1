// Declarations of ours for the REAL Paddle Inference 3.x engine inside the
// paddlepaddle wheel (paddle/base/libpaddle.so); see toolchain/fetch/wheel.py.
#pragma once
#define PD_INFER_DECL __attribute__((visibility("default")))
