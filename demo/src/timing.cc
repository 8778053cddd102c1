#include "timing.h"

#include <chrono>

namespace demo {

double NowMs() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double, std::milli>(clock::now().time_since_epoch()).count();
}

LatencyStats BatchTimings::Summary() const {
  return Summarize(full_ms.empty() ? short_ms : full_ms);
}

BatchTimings TimeBatches(Engine& engine, int warmup, int64_t batches, int batch_size,
                         float* input, std::vector<float>* output, const FillBatch& fill,
                         const UseOutput& use) {
  if (warmup > 0) {
    const int n = fill(0, input);
    for (int i = 0; i < warmup; ++i) engine.Infer(input, n, output);
  }
  BatchTimings t;
  t.full_ms.reserve(static_cast<size_t>(batches));
  const double start_ms = NowMs();
  for (int64_t b = 0; b < batches; ++b) {
    const int n = fill(b, input);
    const double t0 = NowMs();
    engine.Infer(input, n, output);
    const double ms = NowMs() - t0;
    t.total_ms += ms;
    (n == batch_size ? t.full_ms : t.short_ms).push_back(ms);
    if (use) use(b, n, *output, NowMs() - start_ms);
  }
  return t;
}

}  // namespace demo
