// trt_clas: latency of a Paddle Inference classifier (CPU or GPU), named after
// the PaddleSlim TensorRT tutorial's program. See --help.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "dataset.h"
#include "demo_error.h"
#include "engine.h"
#include "options.h"
#include "report.h"
#include "run_record.h"
#include "timing.h"

#ifdef PADDLE_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

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

// The timed inputs, in memory before timing: the dataset's first batch ("hot"),
// the images an --order_file names drawn batch by batch in its order ("sample-set"),
// or a synthetic batch ("seeded-noise").
struct TimedInputs {
  std::string mode = "seeded-noise";
  int64_t count = 0;              // distinct images held
  std::vector<float> images;      // count images (sample-set)
  std::vector<int64_t> labels;    // their labels
  std::vector<int64_t> order;     // sample-set draw order
  bool repeated = false;          // hot: a dataset smaller than the batch fills it by repeating

  // Image k of batch `number` (sample-set: the next batch of the order, cycled).
  int64_t Index(int64_t number, int bs, int64_t k) const {
    if (mode != "sample-set") return count > 0 ? k % count : k;
    const int64_t n = static_cast<int64_t>(order.size());
    return order[static_cast<size_t>((number * bs + k) % n)];
  }
};

// Files under `dir` (recursively) whose name says "serialized": TensorRT engines.
void SerializedEngines(const std::string& dir, std::set<std::string>* found) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = dir + "/" + name;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      SerializedEngines(path, found);
    } else if (S_ISREG(st.st_mode) && name.find("serialized") != std::string::npos) {
      found->insert(path);
    }
  }
  ::closedir(d);
}

// "built" when predictor creation serialized engines into the cache, "loaded" when
// it had some and none was added, "" without a TensorRT cache or with nothing in it.
std::string EngineCacheState(const std::set<std::string>& before,
                             const std::set<std::string>& after) {
  for (const auto& f : after)
    if (!before.count(f)) return "built";
  return after.empty() ? "" : "loaded";
}

TimedInputs LoadInputs(const Options& o, std::vector<float>* input) {
  const int bs = o.batch_size;
  TimedInputs in;
  if (o.data_file.empty()) {
    SyntheticInput(input);
    return in;
  }
  auto data = Dataset::Open(o.data_file);
  if (o.order_file.empty()) {
    in.mode = "hot";
    in.count = std::min<int64_t>(data->count(), bs);
    in.repeated = in.count < bs;
    in.labels.resize(static_cast<size_t>(in.count));
    data->Read(0, in.count, input->data(), in.labels.data());
    // A dataset smaller than the batch is repeated to fill it.
    for (int64_t i = in.count; i < bs; ++i)
      std::copy_n(input->data() + (i % in.count) * kImageFloats, kImageFloats,
                  input->data() + i * kImageFloats);
    return in;
  }
  in.mode = "sample-set";
  in.order = ReadOrderFile(o.order_file, data->count());
  // The sample set is the dataset's first images, up to the highest one the order names.
  in.count = *std::max_element(in.order.begin(), in.order.end()) + 1;
  in.images.resize(static_cast<size_t>(in.count * kImageFloats));
  in.labels.resize(static_cast<size_t>(in.count));
  data->Read(0, in.count, in.images.data(), in.labels.data());
  return in;
}

// --soak_cycles: each cycle creates the predictor, times --repeats batches (drawn on from
// the previous cycle's), destroys it and prints one JSON line with the resident set left
// after it; the caller fits the slope (toolchain/soak.py).
// The GPU's used memory after a soak cycle, as a JSON field (`, "gpu_used_mb": X`, or
// `, "gpu_error": "why"`); "" on the CPU. Device-wide: cudaMemGetInfo cannot split it by
// process, so other work on the same GPU counts too.
std::string GpuMemoryField(const Options& o) {
  if (o.device != Device::kGpu) return "";
#ifdef PADDLE_WITH_CUDA
  size_t free_bytes = 0, total_bytes = 0;
  cudaError_t err = cudaSetDevice(o.gpu_id);
  if (err == cudaSuccess) err = cudaMemGetInfo(&free_bytes, &total_bytes);
  if (err != cudaSuccess)
    return std::string(", \"gpu_error\": \"cudaMemGetInfo: ") + cudaGetErrorString(err) + "\"";
  char field[64];
  std::snprintf(field, sizeof field, ", \"gpu_used_mb\": %.1f",
                static_cast<double>(total_bytes - free_bytes) / (1024.0 * 1024.0));
  return field;
#else
  return ", \"gpu_error\": \"the demo was built without WITH_GPU (no CUDA runtime)\"";
#endif
}

int Soak(const Options& o, float* input, const FillBatch& fill) {
  std::vector<float> output;
  int64_t number = 0;
  for (int cycle = 1; cycle <= o.soak_cycles; ++cycle) {
    double create_ms = 0, p50 = 0;
    {
      const double t0 = NowMs();
      Engine engine(o);
      create_ms = NowMs() - t0;
      const BatchTimings t = TimeBatches(
          engine, 0, o.repeats, o.batch_size, input, &output,
          [&](int64_t i, float* batch) { return fill(number + i, batch); }, nullptr);
      p50 = t.Summary().p50;
    }
    number += o.repeats;
    std::printf("{\"soak_cycle\": %d, \"rss_kb\": %lld, \"create_ms\": %.3f, "
                "\"batch_p50_ms\": %.3f%s}\n", cycle, StatusKb("VmRSS"), create_ms, p50,
                GpuMemoryField(o).c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = "trt_clas";
  try {
    Options o = ParseOptions(argc, argv, Program::kTrtClas);
    name = o.program_name;
    const int bs = o.batch_size;
    std::vector<float> input(static_cast<size_t>(bs) * kImageFloats);
    const TimedInputs in = LoadInputs(o, &input);
    const bool sampled = in.mode == "sample-set";
    const bool has_labels = in.mode != "seeded-noise";
    auto fill = [&](int64_t number, float* batch) {
      if (sampled) {
        for (int64_t k = 0; k < bs; ++k)
          std::copy_n(in.images.data() + in.Index(number, bs, k) * kImageFloats, kImageFloats,
                      batch + k * kImageFloats);
      }
      return bs;  // hot and synthetic: the batch is in place already
    };
    if (o.soak_cycles > 0) return Soak(o, input.data(), fill);

    const bool trt_cache = o.device == Device::kGpu && o.use_trt && !o.trt_cache_dir.empty();
    std::set<std::string> engines_before, engines_after;
    if (trt_cache) SerializedEngines(o.trt_cache_dir, &engines_before);
    const double create_start = NowMs();
    Engine engine(o);
    const double create_ms = NowMs() - create_start;
    if (trt_cache) SerializedEngines(o.trt_cache_dir, &engines_after);
    const std::string engine_cache = EngineCacheState(engines_before, engines_after);
    std::vector<float> output, first_output;
    std::vector<int64_t> labels, indices;  // of the first timed batch
    auto keep_first = [&](int64_t number, int, const std::vector<float>& out, double) {
      if (!first_output.empty()) return;
      first_output = out;
      for (int64_t k = 0; k < bs; ++k) indices.push_back(in.Index(number, bs, k));
    };
    const BatchTimings timings = TimeBatches(engine, o.warmup, o.repeats, bs, input.data(),
                                             &output, fill, keep_first, BatchNumbers::kStream);
    const LatencyStats stats = timings.Summary();
    if (first_output.empty() || first_output.size() % bs != 0) {
      throw DemoError("the model's output has " + std::to_string(first_output.size()) +
                          " values, not a multiple of the batch size " + std::to_string(bs),
                      "trt_clas expects a classifier with one [N, classes] output");
    }
    const int64_t classes = static_cast<int64_t>(first_output.size()) / bs;
    std::vector<int64_t> predicted;
    for (int64_t i = 0; i < bs; ++i)
      predicted.push_back(Argmax(first_output.data() + i * classes, classes));
    if (has_labels)
      for (int64_t i : indices) labels.push_back(in.labels[static_cast<size_t>(i)]);
    const double peak_rss_mb = PeakRssMb();

    if (!o.json_only) {
      std::printf("%s: %s on %s, %s, batch %d, threads %d, warm-up %d, repeats %d (Paddle %s API%s%s)\n",
                  name.c_str(), engine.model().layout.c_str(), Name(o.device),
                  Name(o.precision), bs, o.threads, o.warmup, o.repeats, Engine::Api(),
                  *Engine::LibraryVersion() ? ", library " : "", Engine::LibraryVersion());
      PrintStats(stats, bs);
      std::printf("predictor creation %.3f ms, first run %.3f ms%s\n", create_ms,
                  timings.first_run_ms, o.device == Device::kGpu ? " (any engine build included)" : "");
      if (sampled) {
        std::printf("inputs: %lld images of %s in memory, drawn in the order of %s\n",
                    static_cast<long long>(in.count), o.data_file.c_str(), o.order_file.c_str());
      }
      if (has_labels) {
        std::printf("first timed batch (%s%s):\n", o.data_file.c_str(),
                    in.repeated ? ", repeated to fill the batch" : "");
        for (int64_t i = 0; i < bs && i < 16; ++i)
          std::printf("  image %lld: predicted %lld, label %lld%s\n",
                      static_cast<long long>(indices[i]), static_cast<long long>(predicted[i]),
                      static_cast<long long>(labels[i]), predicted[i] == labels[i] ? "" : "  (miss)");
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
    j.Str("input", has_labels ? "data" : "synthetic");
    j.Str("inputs", in.mode);
    if (has_labels) j.Int("input_count", in.count);
    if (sampled && o.seed >= 0) j.Int("input_seed", o.seed);
    if (sampled) j.Str("order_file", o.order_file);
    j.Num("create_ms", create_ms).Num("first_run_ms", timings.first_run_ms)
        .Num("warm_p50_ms", stats.p50);
    if (!engine_cache.empty()) {  // the creation time is the engine's build or load
      j.Str("engine_cache", engine_cache)
          .Num(engine_cache == "built" ? "engine_build_ms" : "engine_load_ms", create_ms);
    }
    if (peak_rss_mb >= 0) j.Num("peak_rss_mb", peak_rss_mb);
    if (has_labels) {
      JsonObject first;
      first.IntList("predicted", predicted).IntList("labels", labels);
      if (sampled) first.IntList("indices", indices);
      j.Raw("first_batch", first.Dump());
    }
    j.StrList("config_calls", engine.config_calls());
    std::printf("%s\n", j.Dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    return ReportError(name, e);
  }
}
