// STAND-IN for Paddle Inference 2.5+/3.x paddle_analysis_config.h (tests only).
// Declares the subset of paddle::AnalysisConfig the demo uses, with the real
// signatures of the 2.5+/3.x C++ API docs. The private
// members are the stand-in's own.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "paddle_infer_declare.h"

namespace paddle {

struct PD_INFER_DECL AnalysisConfig {
  AnalysisConfig();
  AnalysisConfig(const AnalysisConfig& other);  // out of line, as in the real 2.3+ headers
  explicit AnalysisConfig(const std::string& model_dir);
  explicit AnalysisConfig(const std::string& prog_file, const std::string& params_file);

  enum class Precision {
    kFloat32 = 0,
    kInt8,
    kHalf,
    kBf16,
  };

  void SetModel(const std::string& model_dir);
  void SetModel(const std::string& prog_file_path, const std::string& params_file_path);
  const std::string& model_dir() const;
  const std::string& prog_file() const;
  const std::string& params_file() const;

  void EnableUseGpu(uint64_t memory_pool_init_size_mb, int device_id = 0,
                    Precision precision_mode = Precision::kFloat32);
  void DisableGpu();
  bool use_gpu() const;

  void EnableTensorRtEngine(int64_t workspace_size = 1 << 30, int max_batch_size = 1,
                            int min_subgraph_size = 3,
                            Precision precision = Precision::kFloat32,
                            bool use_static = false, bool use_calib_mode = true,
                            bool use_cuda_graph = false);
  bool tensorrt_engine_enabled() const;
  void SetOptimCacheDir(const std::string& opt_cache_dir);

  void SwitchIrOptim(int x = true);
  void EnableNewIR(bool x = true);
  void EnableNewExecutor(bool x = true);
  void SwitchUseFeedFetchOps(int x = true) {}
  bool use_feed_fetch_ops_enabled() const { return false; }
  void SwitchIrDebug(int x = true, const std::vector<std::string>& passes = {});
  void EnableMemoryOptim(bool x = true);
  void DisableGlogInfo();

  void SetCpuMathLibraryNumThreads(int cpu_math_library_num_threads);
  int cpu_math_library_num_threads() const;

  void EnableMKLDNN();
  void DisableMKLDNN();
  bool mkldnn_enabled() const;
  void EnableMkldnnInt8(const std::unordered_set<std::string>& op_list = {});
  bool mkldnn_int8_enabled() const;

  // stand-in state
  std::string model_dir_, prog_file_, params_file_, opt_cache_dir_;
  bool use_gpu_{false}, use_trt_{false}, use_mkldnn_{false}, mkldnn_int8_{false};
  bool ir_optim_{true};
  int threads_{1};
  std::vector<std::string> calls_;
};

}  // namespace paddle
