// The one timing loop of trt_clas and test_acc. The timer covers one
// Engine::Infer call: input copy + Run() + output copy, per batch.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "engine.h"
#include "report.h"

namespace demo {

// Milliseconds on the steady clock.
double NowMs();

// A field of /proc/self/status in kB ("VmRSS", "VmHWM"); < 0 when unknown.
long long StatusKb(const char* field);

// This process's peak resident set (VmHWM of /proc/self/status) in MiB; < 0 when unknown.
double PeakRssMb();

struct BatchTimings {
  std::vector<double> full_ms;   // batches of the full batch size
  std::vector<double> short_ms;  // shorter batches (test_acc's last one)
  double total_ms = 0;           // all timed batches
  double first_run_ms = 0;       // the very first Infer (warm-up or timed): any engine build

  // What the programs report: the full batches, or the short ones when there are none.
  LatencyStats Summary() const;
};

// Puts batch `index` into `input` (untimed); returns how many images it holds.
using FillBatch = std::function<int(int64_t index, float* input)>;
// Looks at batch `index`'s output (untimed); elapsed_ms is the wall time since
// the first timed batch began (its fill included).
using UseOutput = std::function<void(int64_t index, int images, const std::vector<float>& output,
                                     double elapsed_ms)>;

// How fill and use number the batches.
enum class BatchNumbers {
  kTimedOnly,  // warm-up runs batch 0 `warmup` times; timed batches are 0..batches-1
  kStream,     // one stream: warm-up batches 0..warmup-1, then timed warmup..warmup+batches-1
};

// Runs `warmup` untimed batches, then for each of `batches` batches: fill, time
// Infer, use (fill and use get the same number). `input` holds batch_size images;
// `output` ends with the last batch's output. `use` may be empty. The first
// Infer call, warm-up or timed, is also timed on its own (first_run_ms).
BatchTimings TimeBatches(Engine& engine, int warmup, int64_t batches, int batch_size,
                         float* input, std::vector<float>* output, const FillBatch& fill,
                         const UseOutput& use, BatchNumbers numbers = BatchNumbers::kTimedOnly);

}  // namespace demo
