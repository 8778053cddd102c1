// trt_clas: latency of a Paddle Inference classifier (CPU or GPU), named after
// the PaddleSlim TensorRT tutorial's program. See --help.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "dataset.h"
#include "demo_error.h"
#include "engine.h"
#include "options.h"
#include "report.h"
#include "run_record.h"
#include "timing.h"

using namespace demo;

namespace {

// A fixed pseudo-random input in [-2, 2) (same every run) when no data is given.
void SyntheticInput(std::vector<float>* input) {
  uint32_t state = 12345u;
  for (float& v : *input) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(state >> 8) / static_cast<float>(1u << 24) * 4.0f - 2.0f;
  }
}

int64_t Argmax(const float* row, int64_t n) {
  return std::max_element(row, row + n) - row;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = "trt_clas";
  try {
    Options o = ParseOptions(argc, argv, Program::kTrtClas);
    name = o.program_name;
    const int bs = o.batch_size;
    std::vector<float> input(static_cast<size_t>(bs) * kImageFloats);
    std::vector<int64_t> labels;
    int64_t distinct = 0;
    if (!o.data_file.empty()) {
      auto data = Dataset::Open(o.data_file);
      distinct = std::min<int64_t>(data->count(), bs);
      std::vector<int64_t> first(static_cast<size_t>(distinct));
      data->Read(0, distinct, input.data(), first.data());
      // A dataset smaller than the batch is repeated to fill it.
      for (int64_t i = distinct; i < bs; ++i)
        std::copy_n(input.data() + (i % distinct) * kImageFloats, kImageFloats,
                    input.data() + i * kImageFloats);
      for (int64_t i = 0; i < bs; ++i) labels.push_back(first[static_cast<size_t>(i % distinct)]);
    } else {
      SyntheticInput(&input);
    }

    Engine engine(o);
    std::vector<float> output;
    // The same input every run: it is in place already.
    const BatchTimings timings = TimeBatches(engine, o.warmup, o.repeats, bs, input.data(), &output,
                                             [bs](int64_t, float*) { return bs; }, nullptr);
    const LatencyStats stats = timings.Summary();
    if (output.empty() || output.size() % bs != 0) {
      throw DemoError("the model's output has " + std::to_string(output.size()) +
                          " values, not a multiple of the batch size " + std::to_string(bs),
                      "trt_clas expects a classifier with one [N, classes] output");
    }
    const int64_t classes = static_cast<int64_t>(output.size()) / bs;
    std::vector<int64_t> predicted;
    for (int64_t i = 0; i < bs; ++i) predicted.push_back(Argmax(output.data() + i * classes, classes));

    if (!o.json_only) {
      std::printf("%s: %s on %s, %s, batch %d, threads %d, warm-up %d, repeats %d (Paddle %s API%s%s)\n",
                  name.c_str(), engine.model().layout.c_str(), Name(o.device),
                  Name(o.precision), bs, o.threads, o.warmup, o.repeats, Engine::Api(),
                  *Engine::LibraryVersion() ? ", library " : "", Engine::LibraryVersion());
      PrintStats(stats, bs);
      if (!labels.empty()) {
        std::printf("first batch (%s%s):\n", o.data_file.c_str(),
                    distinct < bs ? ", repeated to fill the batch" : "");
        for (int64_t i = 0; i < bs && i < 16; ++i)
          std::printf("  image %lld: predicted %lld, label %lld%s\n", static_cast<long long>(i),
                      static_cast<long long>(predicted[i]), static_cast<long long>(labels[i]),
                      predicted[i] == labels[i] ? "" : "  (miss)");
        if (bs > 16) std::printf("  ... (%d images in the JSON line)\n", bs);
      } else {
        std::printf("input: synthetic (no --data_file); first image predicted class %lld\n",
                    static_cast<long long>(predicted[0]));
      }
    }
    JsonObject j = RunRecord(o, engine, "trt_clas", o.repeats);
    j.Raw("latency_ms", StatsJson(stats))
        .Num("throughput_ips", stats.mean > 0 ? bs * 1000.0 / stats.mean : 0.0)
        .Int("num_classes", classes);
    j.Str("input", labels.empty() ? "synthetic" : "data");
    if (!labels.empty()) {
      j.Raw("first_batch", JsonObject().IntList("predicted", predicted).IntList("labels", labels).Dump());
    }
    j.StrList("config_calls", engine.config_calls());
    std::printf("%s\n", j.Dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    return ReportError(name, e);
  }
}
