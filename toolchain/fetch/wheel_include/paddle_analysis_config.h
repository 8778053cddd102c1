// Declarations of ours for the REAL paddle::AnalysisConfig of the paddlepaddle
// 3.x wheel (its libpaddle.so exports the C++ inference API, but the wheel ships
// no inference headers). Every method below is checked against the library's
// exported symbols by toolchain/fetch/wheel.py before registering; all are out of line.
// A line marked `// optional` is dropped for a wheel that does not export that
// method (3.0.0 has no EnableONEDNN, 3.1.1 no EnableMKLDNN); the demo's CMake adapts to what is declared.
// The object is opaque: the real constructor lays its members out in `storage_`,
// which is far larger than the real class, so no layout knowledge is needed.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_set>

#include "paddle_infer_declare.h"

namespace paddle {

struct PD_INFER_DECL AnalysisConfig {
  AnalysisConfig();
  AnalysisConfig(const AnalysisConfig& other);
  ~AnalysisConfig();
  AnalysisConfig& operator=(const AnalysisConfig&) = delete;

  enum class Precision {
    kFloat32 = 0,
    kInt8,
    kHalf,
    kBf16,
  };

  void SetModel(const std::string& model_dir);
  void SetModel(const std::string& prog_file_path, const std::string& params_file_path);

  void EnableUseGpu(uint64_t memory_pool_init_size_mb, int device_id = 0,
                    Precision precision_mode = Precision::kFloat32);
  void DisableGpu();
  void EnableTensorRtEngine(int64_t workspace_size = 1 << 30, int max_batch_size = 1,
                            int min_subgraph_size = 3,
                            Precision precision = Precision::kFloat32,
                            bool use_static = false, bool use_calib_mode = true,
                            bool use_cuda_graph = false);
  void SetOptimCacheDir(const std::string& opt_cache_dir);  // optional

  void SwitchIrOptim(int x = true);
  void EnableNewIR(bool x = true);  // optional
  void DisableGlogInfo();
  void SetCpuMathLibraryNumThreads(int cpu_math_library_num_threads);

  void EnableMKLDNN();  // optional
  void EnableONEDNN();  // optional
  void DisableMKLDNN();  // optional
  void EnableMkldnnInt8(const std::unordered_set<std::string>& op_list = {});  // optional
  void EnableOnednnInt8(const std::unordered_set<std::string>& op_list = {});  // optional
  void EnableMkldnnBfloat16();  // optional
  void EnableOnednnBfloat16();  // optional

 private:
  alignas(64) unsigned char storage_[1 << 16];
};

}  // namespace paddle
