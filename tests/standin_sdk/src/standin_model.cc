// STAND-IN model loader and classifier (tests only); libcommon.so in the 2.x
// shape, part of libpaddle_fluid.so in the 1.x shape.
//
// The "model" is a linear classifier over 48 features: the mean of each of the
// 3 channels over a 4x4 grid of 56x56 blocks. Files (written by
// tests/standin_sdk write_standin_model):
//   program file: text, first line "PADDLE-STANDIN-CLASSIFIER v1", then
//                 "num_classes N" and "features 48"
//   params file:  little-endian float32 W[N][48] then b[N]
//   non-combined (__model__) dirs keep W in fc_0.w_0 and b in fc_0.b_0.
#include "standin_model.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#ifdef STANDIN_WITH_MKLML
extern "C" double standin_mklml_dot(const float* w, const double* x, int n);
#endif

namespace standin {

static std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("(NotFound) Cannot open file " + path + ", please confirm whether the file is normal.");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

static std::vector<float> ReadFloats(const std::string& path, size_t count) {
  std::string bytes = ReadFile(path);
  if (bytes.size() != count * sizeof(float)) {
    throw std::runtime_error("(InvalidArgument) params file " + path + " holds " +
                             std::to_string(bytes.size()) + " bytes, expected " +
                             std::to_string(count * sizeof(float)));
  }
  std::vector<float> out(count);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

Classifier LoadClassifier(const std::string& prog_file, const std::string& params_file,
                          const std::string& model_dir) {
  std::string prog = ReadFile(prog_file);
  std::istringstream lines(prog);
  std::string magic;
  std::getline(lines, magic);
  if (magic != "PADDLE-STANDIN-CLASSIFIER v1") {
    throw std::runtime_error("(InvalidArgument) Failed to parse program_desc from " + prog_file);
  }
  Classifier clf;
  std::string key;
  int value = 0, features = -1;
  while (lines >> key >> value) {
    if (key == "num_classes") clf.num_classes = value;
    if (key == "features") features = value;
  }
  if (clf.num_classes <= 0 || features != kFeatures) {
    throw std::runtime_error("(InvalidArgument) bad stand-in program " + prog_file);
  }
  const size_t nw = static_cast<size_t>(clf.num_classes) * kFeatures;
  if (!params_file.empty()) {
    std::vector<float> all = ReadFloats(params_file, nw + clf.num_classes);
    clf.w.assign(all.begin(), all.begin() + nw);
    clf.b.assign(all.begin() + nw, all.end());
  } else {
    clf.w = ReadFloats(model_dir + "/fc_0.w_0", nw);
    clf.b = ReadFloats(model_dir + "/fc_0.b_0", clf.num_classes);
  }
  return clf;
}

void Classify(const Classifier& clf, const float* images, int n, float* out) {
  const int hw = 224, block = 56, grid = 4;
  for (int i = 0; i < n; ++i) {
    const float* img = images + static_cast<size_t>(i) * 3 * hw * hw;
    double feat[kFeatures];
    for (int c = 0; c < 3; ++c)
      for (int gy = 0; gy < grid; ++gy)
        for (int gx = 0; gx < grid; ++gx) {
          double sum = 0.0;
          for (int y = gy * block; y < (gy + 1) * block; ++y)
            for (int x = gx * block; x < (gx + 1) * block; ++x)
              sum += img[(static_cast<size_t>(c) * hw + y) * hw + x];
          feat[c * grid * grid + gy * grid + gx] = sum / (block * block);
        }
    for (int k = 0; k < clf.num_classes; ++k) {
      const float* wk = clf.w.data() + static_cast<size_t>(k) * kFeatures;
#ifdef STANDIN_WITH_MKLML
      double acc = standin_mklml_dot(wk, feat, kFeatures);
#else
      double acc = 0.0;
      for (int j = 0; j < kFeatures; ++j) acc += static_cast<double>(wk[j]) * feat[j];
#endif
      out[static_cast<size_t>(i) * clf.num_classes + k] = static_cast<float>(acc + clf.b[k]);
    }
  }
}

void Trace(const std::vector<std::string>& calls) {
  const char* path = std::getenv("PADDLE_STANDIN_TRACE");
  if (!path || !*path) return;
  FILE* f = std::fopen(path, "a");
  if (!f) return;
  for (const auto& c : calls) std::fprintf(f, "%s\n", c.c_str());
  std::fclose(f);
}

}  // namespace standin
