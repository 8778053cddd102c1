// Readers for the two preprocessed-ImageNet formats, batch by batch (never the
// whole file in memory):
//  - "bin" (Paddle's full_ILSVRC2012_val_preprocess.py, `invoke preprocess`):
//      int64 N | N x float32[3][224][224] | N x int64 label   (little-endian)
//  - "slim" (the PaddleSlim TensorRT tutorial): a folder of <i>.data files, each
//      602112 bytes of float32[3][224][224] followed by a 4-byte int label; or a
//      single such file.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace demo {

constexpr int64_t kImageFloats = 3 * 224 * 224;
constexpr int64_t kImageBytes = kImageFloats * 4;    // 602112
constexpr int64_t kSlimRecordBytes = kImageBytes + 4;  // 602116

class Dataset {
 public:
  virtual ~Dataset() = default;
  // Throws DemoError for a missing/unreadable file, a size that disagrees with
  // the header, or an empty dataset.
  static std::unique_ptr<Dataset> Open(const std::string& path);

  int64_t count() const { return count_; }
  const std::string& format() const { return format_; }
  const std::string& path() const { return path_; }
  // Reads images [start, start+n) into images (n*kImageFloats floats) and labels.
  virtual void Read(int64_t start, int64_t n, float* images, int64_t* labels) = 0;

 protected:
  int64_t count_ = 0;
  std::string format_, path_;
};

// An --order_file: little-endian int64 image indices, each in [0, images).
// Throws DemoError for a missing, empty or ragged file or an index out of range.
std::vector<int64_t> ReadOrderFile(const std::string& path, int64_t images);

}  // namespace demo
