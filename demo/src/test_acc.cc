// test_acc: top-1/top-5 accuracy of a Paddle Inference classifier over a
// preprocessed dataset (CPU or GPU), named after the PaddleSlim TensorRT
// tutorial's program. See --help.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
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

// Writes to PATH.tmp.<pid> and renames on Commit(); removes the temp file otherwise.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path) : path_(path) {
    if (path.empty()) return;
    tmp_ = path + ".tmp." + std::to_string(::getpid());
    f_ = std::fopen(tmp_.c_str(), "w");
    if (!f_) throw DemoError("cannot write " + tmp_, "check --predictions_out's folder exists");
  }
  ~AtomicFile() {
    if (f_) {
      std::fclose(f_);
      std::remove(tmp_.c_str());
    }
  }
  FILE* get() { return f_; }
  void Commit() {
    if (!f_) return;
    bool ok = std::fclose(f_) == 0;
    f_ = nullptr;
    if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      std::remove(tmp_.c_str());
      throw DemoError("cannot write " + path_, "check the disk and the folder's permissions");
    }
  }

 private:
  std::string path_, tmp_;
  FILE* f_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  std::string name = "test_acc";
  try {
    Options o = ParseOptions(argc, argv, Program::kTestAcc);
    name = o.program_name;
    auto data = Dataset::Open(o.data_file);
    const int64_t total = o.limit > 0 ? std::min(o.limit, data->count()) : data->count();
    const int bs = o.batch_size;
    Engine engine(o);
    AtomicFile predictions(o.predictions_out);

    std::vector<float> images(static_cast<size_t>(bs) * kImageFloats);
    std::vector<int64_t> labels(static_cast<size_t>(bs));
    std::vector<float> output;
    int64_t done = 0, top1 = 0, top5 = 0, bad_labels = 0, classes = 0;
    int64_t next_progress = o.progress_every > 0 ? o.progress_every : -1;
    auto fill = [&](int64_t index, float* input) {
      const int64_t n = std::min<int64_t>(bs, total - index * bs);
      data->Read(index * bs, n, input, labels.data());
      return static_cast<int>(n);
    };
    auto score = [&](int64_t index, int n, const std::vector<float>& output,
                     double elapsed_ms) {
      if (output.empty() || output.size() % n != 0) {
        throw DemoError("the model's output has " + std::to_string(output.size()) +
                            " values, not a multiple of the batch (" + std::to_string(n) + ")",
                        "test_acc expects a classifier with one [N, classes] output");
      }
      classes = static_cast<int64_t>(output.size()) / n;
      for (int64_t i = 0; i < n; ++i) {
        const float* row = output.data() + i * classes;
        const int64_t label = labels[static_cast<size_t>(i)];
        const int64_t best = std::max_element(row, row + classes) - row;
        if (label < 0 || label >= classes) {
          ++bad_labels;
        } else {
          // rank = how many classes score strictly higher than the label's class
          const float target = row[label];
          int64_t rank = std::count_if(row, row + classes, [&](float v) { return v > target; });
          top1 += best == label;
          top5 += rank < 5;
        }
        if (predictions.get())
          std::fprintf(predictions.get(), "%lld %lld %lld\n",
                       static_cast<long long>(index * bs + i), static_cast<long long>(best),
                       static_cast<long long>(label));
      }
      done += n;
      if (next_progress > 0 && (done >= next_progress || done == total)) {
        const double secs = elapsed_ms / 1000.0;
        std::fprintf(stderr, "%s: %lld/%lld images, top1 %.4f, top5 %.4f, %.1f images/s\n",
                     name.c_str(), static_cast<long long>(done), static_cast<long long>(total),
                     double(top1) / done, double(top5) / done, secs > 0 ? done / secs : 0.0);
        while (next_progress <= done) next_progress += o.progress_every;
      }
    };
    const int64_t batches = (total + bs - 1) / bs;
    const BatchTimings timings =
        TimeBatches(engine, o.warmup, batches, bs, images.data(), &output, fill, score);
    predictions.Commit();
    if (bad_labels > 0) {
      std::fprintf(stderr, "%s: warning: %lld labels are outside [0, %lld) and count as misses\n",
                   name.c_str(), static_cast<long long>(bad_labels), static_cast<long long>(classes));
    }
    const LatencyStats stats = timings.Summary();
    const double top1_frac = total ? double(top1) / total : 0.0;
    const double top5_frac = total ? double(top5) / total : 0.0;
    if (!o.json_only) {
      std::printf("%s: %s on %s, %s, batch %d, threads %d (Paddle %s API%s%s)\n", name.c_str(),
                  engine.model().layout.c_str(), Name(o.device), Name(o.precision), bs,
                  o.threads, Engine::Api(), *Engine::LibraryVersion() ? ", library " : "",
                  Engine::LibraryVersion());
      std::printf("dataset: %s (%s, %lld images, scored %lld)\n", o.data_file.c_str(),
                  data->format().c_str(), static_cast<long long>(data->count()),
                  static_cast<long long>(total));
      std::printf("top1 acc: %.4f (%lld/%lld)\ntop5 acc: %.4f (%lld/%lld)\n", top1_frac,
                  static_cast<long long>(top1), static_cast<long long>(total), top5_frac,
                  static_cast<long long>(top5), static_cast<long long>(total));
      PrintStats(stats, timings.full_ms.empty() ? static_cast<int>(total) : bs);
    }
    JsonObject j = RunRecord(o, engine, "test_acc", stats.count);
    j.Raw("latency_ms", StatsJson(stats))
        .Num("throughput_ips", timings.total_ms > 0 ? total * 1000.0 / timings.total_ms : 0.0)
        .Int("num_classes", classes)
        .Str("data_format", data->format())
        .Int("dataset_images", data->count())
        .Int("images", total)
        .Int("top1_correct", top1)
        .Int("top5_correct", top5)
        .Num("top1", top1_frac)
        .Num("top5", top5_frac)
        .StrList("config_calls", engine.config_calls());
    std::printf("%s\n", j.Dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    return ReportError(name, e);
  }
}
