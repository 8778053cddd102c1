// STAND-IN for Paddle Inference 1.8 paddle_inference_api.h (tests only).
// No paddle_infer namespace: that arrived with 2.0.
#pragma once
#include "paddle_analysis_config.h"
#include "paddle_api.h"
