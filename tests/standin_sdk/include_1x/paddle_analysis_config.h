// STAND-IN for Paddle Inference 1.8 (fluid_inference) paddle_analysis_config.h
// (tests only). The subset of paddle::AnalysisConfig the demo uses, with the 1.8
// signatures of the 1.8 C++ API docs: int workspace,
// six-argument EnableTensorRtEngine, two-argument EnableUseGpu, no
// EnableMkldnnInt8. The private members are the stand-in's own.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace paddle {

struct AnalysisConfig {
  AnalysisConfig();
  // explicit, as in the real 1.8 .. 2.2 headers: no copy-initialisation of a config
  explicit AnalysisConfig(const AnalysisConfig& other);
  explicit AnalysisConfig(const std::string& model_dir);
  explicit AnalysisConfig(const std::string& prog_file, const std::string& params_file);

  enum class Precision {
    kFloat32 = 0,
    kInt8,
    kHalf,
  };

  void SetModel(const std::string& model_dir);
  void SetModel(const std::string& prog_file_path, const std::string& params_file_path);
  const std::string& model_dir() const;
  const std::string& prog_file() const;
  const std::string& params_file() const;

  void EnableUseGpu(uint64_t memory_pool_init_size_mb, int device_id = 0);
  void DisableGpu();
  bool use_gpu() const;

  void EnableTensorRtEngine(int workspace_size = 1 << 20, int max_batch_size = 1,
                            int min_subgraph_size = 3,
                            Precision precision = Precision::kFloat32,
                            bool use_static = false, bool use_calib_mode = true);
  bool tensorrt_engine_enabled() const;
  void SetOptimCacheDir(const std::string& opt_cache_dir);

  void SwitchIrOptim(int x = true);
  void SwitchUseFeedFetchOps(int x = true);
  bool use_feed_fetch_ops_enabled() const;
  void SwitchIrDebug(int x = true);
  void EnableMemoryOptim();
  void DisableGlogInfo();

  void SetCpuMathLibraryNumThreads(int cpu_math_library_num_threads);
  int cpu_math_library_num_threads() const;

  void EnableMKLDNN();
  bool mkldnn_enabled() const;

  // stand-in state
  std::string model_dir_, prog_file_, params_file_, opt_cache_dir_;
  bool use_gpu_{false}, use_trt_{false}, use_mkldnn_{false}, mkldnn_int8_{false};
  bool ir_optim_{true}, feed_fetch_ops_{true};
  int threads_{1};
  std::vector<std::string> calls_;
};

}  // namespace paddle
