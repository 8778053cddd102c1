#include "timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "demo_error.h"

namespace demo {

namespace {

std::string ModelName(const ModelFiles& m) {
  if (!m.dir.empty()) return m.dir;
  const size_t slash = m.prog_file.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : m.prog_file.substr(0, slash);
}

// A batch whose output holds a NaN or Inf is not a measurement: stop with the model and
// the first image that has one (as the Python runner does), by timed batch number and
// row: which dataset image that is depends on the program's fill (sample order, stream).
void CheckFinite(const Engine& engine, const std::vector<float>& output, int images,
                 int64_t batch) {
  size_t nan = 0, inf = 0, first_bad = output.size();
  for (size_t i = 0; i < output.size(); ++i) {
    if (std::isnan(output[i])) ++nan;
    else if (std::isinf(output[i])) ++inf;
    else continue;
    if (first_bad == output.size()) first_bad = i;
  }
  if (nan + inf == 0) return;
  const size_t per_image = images > 0 ? std::max<size_t>(1, output.size() / images) : 1;
  const int64_t row = static_cast<int64_t>(first_bad / per_image);
  std::string counts;
  if (nan) counts = std::to_string(nan) + " NaN";
  if (inf) counts += (counts.empty() ? "" : " and ") + std::to_string(inf) + " Inf";
  const std::string at = "first in timed batch " + std::to_string(batch) + ", image " +
                         std::to_string(row) + " of it";
  throw DemoError(ModelName(engine.model()) + " produced " + counts + " in the output (" + at +
                      "); a result with NaN/Inf is not a measurement",
                  "an INT8 model: compare it with its FP32 model op by op (`invoke "
                  "compare-layers`), then re-quantize or keep the breaking op in FP32 "
                  "(`invoke repair-int8`); an FP32 model: check its weights and the dataset");
}

}  // namespace

double NowMs() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double, std::milli>(clock::now().time_since_epoch()).count();
}

long long StatusKb(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long long kb = -1;
  const size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      kb = std::atoll(line + n + 1);
      break;
    }
  }
  std::fclose(f);
  return kb;
}

double PeakRssMb() {
  const long long kb = StatusKb("VmHWM");
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
    CheckFinite(engine, *output, n, b);
    (n == batch_size ? t.full_ms : t.short_ms).push_back(ms);
    if (use) use(first + b, n, *output, NowMs() - start_ms);
  }
  return t;
}

}  // namespace demo
