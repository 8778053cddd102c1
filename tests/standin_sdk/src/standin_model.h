// STAND-IN internals (tests only); see standin_model.cc.
#pragma once
#include <cstring>
#include <string>
#include <vector>

namespace standin {
constexpr int kFeatures = 48;
struct Classifier {
  int num_classes = 0;
  std::vector<float> w, b;
};
__attribute__((visibility("default"))) Classifier LoadClassifier(
    const std::string& prog_file, const std::string& params_file, const std::string& model_dir);
__attribute__((visibility("default"))) void Classify(const Classifier& clf, const float* images,
                                                     int n, float* out);
__attribute__((visibility("default"))) void Trace(const std::vector<std::string>& calls);
}  // namespace standin
