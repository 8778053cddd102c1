#include "options.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "demo_error.h"

namespace demo {
namespace {

enum class Kind { kString, kInt, kBool };
enum Scope { kBoth = 3, kLatency = 1, kAccuracy = 2 };

struct Flag {
  std::vector<std::string> names;  // first = canonical, rest = aliases
  Kind kind;
  int scope;
  std::string help;
  std::function<void(const std::string&)> set;  // receives the raw value ("true" for bare bools)
};

[[noreturn]] void Usage(const std::string& msg, const std::string& hint) {
  throw DemoError(msg, hint, 2);
}

int64_t ToInt(const std::string& name, const std::string& v, int64_t lo, int64_t hi) {
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE) {
    Usage("--" + name + " wants an integer, got '" + v + "'", "e.g. --" + name + "=" + std::to_string(lo));
  }
  if (x < lo || x > hi) {
    Usage("--" + name + "=" + v + " is out of range [" + std::to_string(lo) + ", " +
              std::to_string(hi) + "]", "");
  }
  return x;
}

bool ToBool(const std::string& name, const std::string& v) {
  std::string s;
  for (char c : v) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "true" || s == "1" || s == "yes" || s == "on" || s == "t" || s == "y") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off" || s == "f" || s == "n") return false;
  Usage("--" + name + " wants true or false, got '" + v + "'", "");
}

template <typename E>
struct Spelling {
  E value;
  const char* name;
};

constexpr Spelling<Device> kDevices[] = {{Device::kCpu, "cpu"}, {Device::kGpu, "gpu"}};
constexpr Spelling<Precision> kPrecisions[] = {
    {Precision::kFp32, "fp32"}, {Precision::kFp16, "fp16"}, {Precision::kInt8, "int8"},
    {Precision::kBf16, "bf16"}};

// The value spelled v, or one usage error that lists the spellings.
template <typename E, size_t N>
E Choice(const std::string& name, const std::string& v, const Spelling<E> (&table)[N]) {
  for (const auto& s : table)
    if (v == s.name) return s.value;
  std::string list;
  for (const auto& s : table) list += (list.empty() ? "" : "|") + std::string(s.name);
  Usage("--" + name + "=" + v + " is not one of " + list, "");
}

template <typename E, size_t N>
const char* SpellingOf(E value, const Spelling<E> (&table)[N]) {
  for (const auto& s : table)
    if (s.value == value) return s.name;
  return "?";
}

std::vector<Flag> MakeFlags(Options* o) {
  auto str = [](std::string* dst) { return [dst](const std::string& v) { *dst = v; }; };
  std::vector<Flag> f;
  f.push_back({{"model_dir"}, Kind::kString, kBoth,
               "model folder; finds inference.pdmodel+inference.pdiparams, "
               "inference.json+inference.pdiparams (3.x PIR), model+params, or __model__",
               str(&o->model_dir)});
  f.push_back({{"model_file"}, Kind::kString, kBoth,
               "program file (instead of --model_dir discovery)", str(&o->model_file)});
  f.push_back({{"params_file"}, Kind::kString, kBoth,
               "parameters file that goes with --model_file", str(&o->params_file)});
  f.push_back({{"device"}, Kind::kString, kBoth, "cpu | gpu (default cpu)",
               [o](const std::string& v) { o->device = Choice("device", v, kDevices); }});
  f.push_back({{"precision"}, Kind::kString, kBoth,
               "fp32 | fp16 | int8 | bf16 (default fp32); int8 on CPU = oneDNN INT8, on GPU = TensorRT INT8; "
               "bf16 = CPU only, oneDNN bfloat16 on the FP32 model",
               [o](const std::string& v) {
                 o->precision = Choice("precision", v, kPrecisions);
               }});
  f.push_back({{"use_int8", "int8"}, Kind::kBool, kBoth,
               "tutorial alias: true = --precision int8, false = --precision fp32",
               [o](const std::string& v) {
                 o->precision = ToBool("use_int8", v) ? Precision::kInt8 : Precision::kFp32;
               }});
  f.push_back({{"batch_size"}, Kind::kInt, kBoth, "images per batch (default 1)",
               [o](const std::string& v) { o->batch_size = (int)ToInt("batch_size", v, 1, 65536); }});
  f.push_back({{"threads", "cpu_threads"}, Kind::kInt, kBoth,
               "CPU math library threads (SetCpuMathLibraryNumThreads, default 1)",
               [o](const std::string& v) { o->threads = (int)ToInt("threads", v, 1, 1024); }});
  f.push_back({{"warmup"}, Kind::kInt, kBoth,
               "untimed runs before measuring (default 10 for trt_clas, 1 for test_acc)",
               [o](const std::string& v) { o->warmup = (int)ToInt("warmup", v, 0, 1000000); }});
  f.push_back({{"repeats", "repeat_times"}, Kind::kInt, kLatency,
               "timed runs (default 100)",
               [o](const std::string& v) { o->repeats = (int)ToInt("repeats", v, 1, 100000000); }});
  f.push_back({{"soak_cycles"}, Kind::kInt, kLatency,
               "soak: create the predictor, run --repeats batches, destroy it, N times; one "
               "JSON line per cycle with the resident set after it (default 0: a latency run)",
               [o](const std::string& v) { o->soak_cycles = (int)ToInt("soak_cycles", v, 0, 1000000); }});
  f.push_back({{"data_file", "data_dir"}, Kind::kString, kBoth,
               "dataset: a .bin file (int64 N | N float32 3x224x224 | N int64 labels), a folder of "
               "<i>.data files, or one <i>.data file (602112 bytes of floats + int32 label)",
               str(&o->data_file)});
  f.push_back({{"order_file"}, Kind::kString, kLatency,
               "time batches drawn from the dataset in this order (a file of little-endian int64 "
               "image indices, cycled); the images it names are read into memory before timing. "
               "Without it: the dataset's first batch, again and again",
               str(&o->order_file)});
  f.push_back({{"seed"}, Kind::kInt, kLatency,
               "the seed that made --order_file (only recorded in the JSON line)",
               [o](const std::string& v) { o->seed = ToInt("seed", v, 0, INT64_MAX); }});
  f.push_back({{"limit"}, Kind::kInt, kAccuracy, "score only the first N images (default all)",
               [o](const std::string& v) { o->limit = ToInt("limit", v, 0, INT64_MAX); }});
  f.push_back({{"progress_every"}, Kind::kInt, kAccuracy,
               "print a progress line to stderr every N images (default 1000, 0 = never)",
               [o](const std::string& v) {
                 o->progress_every = (int)ToInt("progress_every", v, 0, INT32_MAX);
               }});
  f.push_back({{"predictions_out"}, Kind::kString, kAccuracy,
               "write one line per image: \"index top1 label\"", str(&o->predictions_out)});
  f.push_back({{"json_only"}, Kind::kBool, kBoth, "print only the final JSON line on stdout",
               [o](const std::string& v) { o->json_only = ToBool("json_only", v); }});
  f.push_back({{"use_trt", "use_tensorrt"}, Kind::kBool, kBoth,
               "GPU: run through TensorRT (default true; fp16/int8 need it)",
               [o](const std::string& v) { o->use_trt = ToBool("use_trt", v); }});
  f.push_back({{"use_calib"}, Kind::kBool, kBoth,
               "TensorRT INT8 calibration of an FP32 model (true) vs a quantized model with scales "
               "(false, default)",
               [o](const std::string& v) { o->use_calib = ToBool("use_calib", v); }});
  f.push_back({{"trt_cache_dir"}, Kind::kString, kBoth,
               "serialize TensorRT engines here and reuse them (use_static); default: no cache",
               str(&o->trt_cache_dir)});
  f.push_back({{"workspace_mb"}, Kind::kInt, kBoth, "TensorRT workspace in MiB (default 1024)",
               [o](const std::string& v) { o->workspace_mb = ToInt("workspace_mb", v, 1, 1 << 20); }});
  f.push_back({{"min_subgraph_size"}, Kind::kInt, kBoth,
               "TensorRT: smallest subgraph to offload (default 3)",
               [o](const std::string& v) {
                 o->min_subgraph_size = (int)ToInt("min_subgraph_size", v, 0, 1000000);
               }});
  f.push_back({{"gpu_id"}, Kind::kInt, kBoth, "GPU device id (default 0)",
               [o](const std::string& v) { o->gpu_id = (int)ToInt("gpu_id", v, 0, 1024); }});
  f.push_back({{"gpu_mem_mb"}, Kind::kInt, kBoth, "initial GPU memory pool in MiB (default 500)",
               [o](const std::string& v) { o->gpu_mem_mb = (int)ToInt("gpu_mem_mb", v, 1, 1 << 20); }});
  f.push_back({{"use_onednn", "use_mkldnn"}, Kind::kBool, kBoth,
               "CPU: use oneDNN (default true; int8 needs it)",
               [o](const std::string& v) { o->use_onednn = ToBool("use_onednn", v); }});
  f.push_back({{"ir_optim"}, Kind::kBool, kBoth, "Paddle IR optimization passes (default true)",
               [o](const std::string& v) { o->ir_optim = ToBool("ir_optim", v); }});
  f.push_back({{"glog_info"}, Kind::kBool, kBoth, "keep Paddle's INFO logging (default false)",
               [o](const std::string& v) { o->glog_info = ToBool("glog_info", v); }});
  return f;
}

void PrintHelp(const Options& o, const std::vector<Flag>& flags, int scope) {
  const bool latency = o.program == Program::kTrtClas;
  std::printf("Usage: %s --model_dir=DIR [flags]\n\n", o.program_name.c_str());
  if (latency) {
    std::printf(
        "Latency of a Paddle Inference classifier (CPU or GPU, despite the name).\n"
        "Runs --warmup untimed batches, then --repeats timed ones and prints\n"
        "min/mean/p50/p90/p99/max per batch in ms and the throughput in images/s.\n"
        "The timer covers input copy (host->device), Run() and output copy (device->host).\n"
        "With --data_file it feeds the first batch of the dataset (or, with --order_file,\n"
        "batches drawn in that order from images held in memory) and prints predicted\n"
        "class versus label of the first timed batch; without, a fixed synthetic input.\n"
        "The JSON line also has create_ms (predictor creation), first_run_ms (the first\n"
        "Run, any engine build included), warm_p50_ms and peak_rss_mb (VmHWM).\n\n");
  } else {
    std::printf(
        "Top-1/top-5 accuracy of a Paddle Inference classifier over a preprocessed\n"
        "dataset (CPU or GPU), read batch by batch (never whole into memory).\n"
        "Per-batch latency (timer: input copy + Run() + output copy) is reported too.\n\n");
  }
  std::printf("Flags (--name=value or --name value; booleans also --name / --noname):\n");
  for (const auto& f : flags) {
    if (!(f.scope & scope)) continue;
    std::string names = "--" + f.names[0];
    for (size_t i = 1; i < f.names.size(); ++i) names += ", --" + f.names[i];
    std::printf("  %-28s %s\n", names.c_str(), f.help.c_str());
  }
  std::printf("  %-28s %s\n", "--help", "show this help");
  std::printf(
      "\nThe last line on stdout is one JSON object with the configuration and the\n"
      "results (latency_ms, throughput_ips%s).\n",
      latency ? ", first_batch" : ", images, top1, top5");
}

}  // namespace

const char* Name(Device device) { return SpellingOf(device, kDevices); }
const char* Name(Precision precision) { return SpellingOf(precision, kPrecisions); }

Options ParseOptions(int argc, char** argv, Program program) {
  Options o;
  o.program = program;
  std::string prog = argc > 0 ? argv[0] : "demo";
  size_t slash = prog.rfind('/');
  o.program_name = slash == std::string::npos ? prog : prog.substr(slash + 1);
  if (program == Program::kTestAcc) o.warmup = 1;
  const int scope = program == Program::kTrtClas ? kLatency : kAccuracy;
  std::vector<Flag> flags = MakeFlags(&o);
  auto find = [&](const std::string& name) -> const Flag* {
    for (const auto& f : flags)
      for (const auto& n : f.names)
        if (n == name) return (f.scope & scope) ? &f : nullptr;
    return nullptr;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-help" || arg == "-h" || arg == "--helpfull") {
      PrintHelp(o, flags, scope);
      std::exit(0);
    }
    if (arg.size() < 2 || arg[0] != '-') {
      Usage("unexpected argument '" + arg + "'", "flags look like --name=value; see --help");
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    size_t eq = body.find('=');
    if (eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    const Flag* flag = find(name);
    if (!flag && !has_value && name.rfind("no", 0) == 0) {  // --noflag
      const Flag* neg = find(name.substr(2));
      if (neg && neg->kind == Kind::kBool) {
        neg->set("false");
        continue;
      }
    }
    if (!flag) Usage("unknown flag '" + arg + "'", "run " + o.program_name + " --help for the list");
    if (!has_value) {
      if (flag->kind == Kind::kBool) {
        // A bare boolean is true, unless the next word is a boolean value.
        if (i + 1 < argc) {
          std::string next = argv[i + 1];
          if (next == "true" || next == "false" || next == "True" || next == "False") {
            value = next;
            ++i;
          } else {
            value = "true";
          }
        } else {
          value = "true";
        }
      } else {
        if (i + 1 >= argc) Usage("--" + name + " needs a value", "e.g. --" + name + "=VALUE");
        value = argv[++i];
      }
    }
    flag->set(value);
  }
  if (o.model_dir.empty() && o.model_file.empty()) {
    Usage("no model given", "pass --model_dir=DIR (or --model_file=FILE --params_file=FILE)");
  }
  if (!o.order_file.empty() && o.data_file.empty()) {
    Usage("--order_file needs a dataset", "pass --data_file=FILE.bin with --order_file");
  }
  if (program == Program::kTestAcc && o.data_file.empty()) {
    Usage("no dataset given", "pass --data_file=FILE.bin (or --data_dir=DIR of <i>.data files)");
  }
  return o;
}

int ReportError(const std::string& program, const std::exception& err) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s: error: %s\n", program.c_str(), err.what());
  int code = 1;
  if (auto* d = dynamic_cast<const DemoError*>(&err)) {
    if (!d->hint().empty()) std::fprintf(stderr, "  fix: %s\n", d->hint().c_str());
    code = d->exit_code();
  }
  return code;
}

}  // namespace demo
