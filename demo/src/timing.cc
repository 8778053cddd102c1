#include "timing.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace demo {

double NowMs() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double, std::milli>(clock::now().time_since_epoch()).count();
}

double PeakRssMb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long long kb = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "VmHWM:", 6) == 0) {
      kb = std::atoll(line + 6);
      break;
    }
  }
  std::fclose(f);
  return kb < 0 ? -1 : kb / 1024.0;
}

LatencyStats BatchTimings::Summary() const {
  return Summarize(full_ms.empty() ? short_ms : full_ms);
}

BatchTimings TimeBatches(Engine& engine, int warmup, int64_t batches, int batch_size,
                         float* input, std::vector<float>* output, const FillBatch& fill,
                         const UseOutput& use, BatchNumbers numbers) {
  const bool stream = numbers == BatchNumbers::kStream;
  BatchTimings t;
  int n = 0;
  for (int i = 0; i < warmup; ++i) {
    if (stream || i == 0) n = fill(stream ? i : 0, input);
    const double t0 = NowMs();
    engine.Infer(input, n, output);
    if (i == 0) t.first_run_ms = NowMs() - t0;
  }
  t.full_ms.reserve(static_cast<size_t>(batches));
  const int64_t first = stream ? std::max(warmup, 0) : 0;
  const double start_ms = NowMs();
  for (int64_t b = 0; b < batches; ++b) {
    n = fill(first + b, input);
    const double t0 = NowMs();
    engine.Infer(input, n, output);
    const double ms = NowMs() - t0;
    if (warmup <= 0 && b == 0) t.first_run_ms = ms;
    t.total_ms += ms;
    (n == batch_size ? t.full_ms : t.short_ms).push_back(ms);
    if (use) use(first + b, n, *output, NowMs() - start_ms);
  }
  return t;
}

}  // namespace demo
