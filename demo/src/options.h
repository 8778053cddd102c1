// Command-line flags shared by trt_clas and test_acc (gflags-style syntax:
// --name=value, --name value, -name=value, --flag, --noflag; the tutorial's
// names --use_int8, --int8, --repeat_times, --data_dir keep working).
#pragma once
#include <cstdint>
#include <string>

namespace demo {

enum class Program { kTrtClas, kTestAcc };
enum class Device { kCpu, kGpu };
enum class Precision { kFp32, kFp16, kInt8, kBf16 };

// The flag spelling of each value ("cpu", "int8", ...), as the JSON line prints it.
const char* Name(Device device);
const char* Name(Precision precision);

struct Options {
  Program program = Program::kTrtClas;
  std::string program_name;
  std::string model_dir, model_file, params_file;
  Device device = Device::kCpu;
  Precision precision = Precision::kFp32;
  int batch_size = 1;
  int threads = 1;
  int warmup = 10;
  int repeats = 100;
  int soak_cycles = 0;               // trt_clas: create/run/destroy cycles (0: a latency run)
  std::string data_file;             // bin dataset, slim dir, or one <i>.data file
  std::string order_file;            // trt_clas: int64 image indices, the seeded draw order
  int64_t seed = -1;                 // trt_clas: the seed of --order_file, for the record (-1: none)
  int64_t limit = 0;                 // test_acc: 0 = all images
  int progress_every = 1000;         // test_acc: images between progress lines
  std::string predictions_out;       // test_acc: "index top1 label" per image
  bool json_only = false;
  // GPU / TensorRT
  bool use_trt = true;
  bool use_calib = false;
  std::string trt_cache_dir;
  int64_t workspace_mb = 1024;
  int min_subgraph_size = 3;
  int gpu_id = 0;
  int gpu_mem_mb = 500;
  // CPU
  bool use_onednn = true;
  // both
  bool ir_optim = true;
  bool glog_info = false;
};

// Parses argv; prints --help and exits 0 when asked; throws DemoError
// (exit code 2) for an unknown flag, a bad value or a missing required flag.
Options ParseOptions(int argc, char** argv, Program program);

}  // namespace demo
