// STAND-IN for Paddle Inference's paddle_infer_declare.h (tests only).
#pragma once
#define PD_INFER_DECL __attribute__((visibility("default")))
