// The fields both programs put first in their final JSON line.
#pragma once
#include "engine.h"
#include "options.h"
#include "report.h"

namespace demo {

inline JsonObject RunRecord(const Options& o, const Engine& engine, const char* program,
                            int64_t repeats) {
  JsonObject j;
  j.Str("program", program)
      .Str("paddle_api", Engine::Api())
      .Str("paddle_version", Engine::LibraryVersion())
      .Str("device", Name(o.device))
      .Str("precision", Name(o.precision))
      .Int("batch_size", o.batch_size)
      .Int("threads", o.threads)
      .Int("warmup", o.warmup)
      .Int("repeats", repeats)
      .Str("model_dir", o.model_dir)
      .Str("model_layout", engine.model().layout)
      .Str("model_file", engine.model().prog_file.empty() ? engine.model().dir + "/__model__"
                                                          : engine.model().prog_file)
      .Str("params_file", engine.model().params_file)
      .Str("data_file", o.data_file)
      .Bool("use_trt", o.device == Device::kGpu && o.use_trt)
      .Bool("use_calib", o.precision == Precision::kInt8 && o.use_calib)
      .Str("timer", "input copy + run + output copy, per batch");
  return j;
}

}  // namespace demo
