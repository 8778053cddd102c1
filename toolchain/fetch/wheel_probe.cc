// The proof program of toolchain/fetch/wheel.py: built against an assembled
// wheel library, it runs a seeded model through the C++ API and writes the raw
// output floats, which must equal Python paddle.inference's byte for byte.
// It references EVERY function our declarations (wheel_include/) declare, the
// GPU/TensorRT ones in a branch never taken on CPU, so that `nm -u` on its object
// file lists exactly the symbols the declarations promise. WHEEL_HAS_<Method> = 1
// for each `// optional` declaration kept for this wheel.
//   wheel_probe MODEL PARAMS INPUT.bin N C H W OUT.bin
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "paddle_inference_api.h"

int main(int argc, char** argv) {
  if (argc != 9) {
    std::cerr << "usage: wheel_probe MODEL PARAMS INPUT.bin N C H W OUT.bin\n";
    return 2;
  }
  std::vector<int> shape = {std::atoi(argv[4]), std::atoi(argv[5]), std::atoi(argv[6]),
                            std::atoi(argv[7])};
  size_t count = 1;
  for (int d : shape) count *= static_cast<size_t>(d);
  std::vector<float> input(count);
  std::ifstream in(argv[3], std::ios::binary);
  in.read(reinterpret_cast<char*>(input.data()), count * sizeof(float));
  if (!in) {
    std::cerr << "cannot read " << count << " floats from " << argv[3] << "\n";
    return 2;
  }
  paddle_infer::Config config;
  config.SetModel(std::string(argv[1]), std::string(argv[2]));
  config.DisableGpu();
  config.SetCpuMathLibraryNumThreads(1);
  config.SwitchIrOptim(true);
  config.DisableGlogInfo();
  if (std::getenv("WHEEL_PROBE_ALL_DECLARATIONS_NEVER_SET") != nullptr) {
    // never set: references the rest of the declarations (not run)
    paddle_infer::Config copy(config);
    copy.SetModel(std::string(argv[1]));
    copy.EnableUseGpu(100, 0, paddle_infer::PrecisionType::kFloat32);
    copy.EnableTensorRtEngine(1 << 30, 1, 3, paddle_infer::PrecisionType::kInt8, false, true,
                              false);
#if WHEEL_HAS_SetOptimCacheDir
    copy.SetOptimCacheDir(std::string(argv[1]));
#endif
#if WHEEL_HAS_EnableNewIR
    copy.EnableNewIR(true);
#endif
#if WHEEL_HAS_EnableMKLDNN
    copy.EnableMKLDNN();
#endif
#if WHEEL_HAS_EnableONEDNN
    copy.EnableONEDNN();
#endif
#if WHEEL_HAS_DisableMKLDNN
    copy.DisableMKLDNN();
#endif
#if WHEEL_HAS_EnableMkldnnInt8
    copy.EnableMkldnnInt8();
#endif
#if WHEEL_HAS_EnableOnednnInt8
    copy.EnableOnednnInt8();
#endif
  }
  auto predictor = paddle_infer::CreatePredictor(config);
  auto inputs = predictor->GetInputNames();
  auto x = predictor->GetInputHandle(inputs.at(0));
  x->Reshape(shape);
  x->CopyFromCpu(input.data());
  if (!predictor->Run()) {
    std::cerr << "Predictor::Run failed\n";
    return 3;
  }
  auto outputs = predictor->GetOutputNames();
  auto y = predictor->GetOutputHandle(outputs.at(0));
  std::vector<int> out_shape = y->shape();
  size_t out_count = 1;
  for (int d : out_shape) out_count *= static_cast<size_t>(d);
  std::vector<float> out(out_count);
  y->CopyToCpu(out.data());
  std::ofstream of(argv[8], std::ios::binary);
  of.write(reinterpret_cast<const char*>(out.data()), out_count * sizeof(float));
  std::cout << "shape";
  for (int d : out_shape) std::cout << " " << d;
  std::cout << "\n" << paddle_infer::GetVersion() << "\n";
  return of ? 0 : 4;
}
