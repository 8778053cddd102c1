#include "dataset.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "demo_error.h"

namespace demo {
namespace {

static_assert(sizeof(float) == 4, "float must be 32-bit");

bool LittleEndianHost() {
  const uint16_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

int OpenForRead(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw DemoError("cannot open data file " + path + ": " + std::strerror(errno),
                    "check the path given to --data_file");
  }
  return fd;
}

void ReadExact(int fd, void* dst, size_t n, off_t offset, const std::string& path) {
  char* p = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t got = ::pread(fd, p, n, offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      throw DemoError("read failed in " + path + " at byte " + std::to_string(offset) + ": " +
                          (got == 0 ? std::string("unexpected end of file") : std::strerror(errno)),
                      "the file is truncated or changed while reading; re-create it");
    }
    p += got;
    n -= static_cast<size_t>(got);
    offset += got;
  }
}

class BinDataset : public Dataset {
 public:
  BinDataset(const std::string& path, int fd, int64_t file_size) : fd_(fd) {
    path_ = path;
    format_ = "bin";
    if (file_size < 8) {
      throw DemoError("data file " + path + " is " + std::to_string(file_size) +
                          " bytes, too small for the int64 image-count header",
                      "create it with `invoke preprocess` (format: int64 N | N float32 3x224x224 | "
                      "N int64 labels)");
    }
    int64_t n = 0;
    ReadExact(fd_, &n, 8, 0, path);
    if (n == 0) {
      throw DemoError("dataset " + path + " is empty (its header says 0 images)",
                      "re-create it from a non-empty label list");
    }
    // 8 + N * (602112 + 8) bytes; compare without overflow for absurd headers.
    const int64_t per = kImageBytes + 8;
    if (n < 0 || n > (file_size - 8) / per || 8 + n * per != file_size) {
      std::string expect = (n > 0 && n <= (INT64_MAX - 8) / per)
                               ? std::to_string(8 + n * per) + " bytes"
                               : std::string("an impossible size");
      throw DemoError("data file " + path + " has " + std::to_string(file_size) +
                          " bytes but its header says " + std::to_string(n) + " images (" +
                          expect + " expected)",
                      "the file is truncated or not in the bin format (int64 N | N float32 "
                      "3x224x224 | N int64 labels); re-create it with `invoke preprocess`");
    }
    count_ = n;
#ifdef POSIX_FADV_SEQUENTIAL
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  ~BinDataset() override { ::close(fd_); }

  void Read(int64_t start, int64_t n, float* images, int64_t* labels) override {
    ReadExact(fd_, images, static_cast<size_t>(n * kImageBytes), 8 + start * kImageBytes, path_);
    ReadExact(fd_, labels, static_cast<size_t>(n * 8), 8 + count_ * kImageBytes + start * 8, path_);
  }

 private:
  int fd_;
};

class SlimDataset : public Dataset {
 public:
  SlimDataset(const std::string& path, std::vector<std::string> files)
      : files_(std::move(files)) {
    path_ = path;
    format_ = "slim";
    count_ = static_cast<int64_t>(files_.size());
  }

  void Read(int64_t start, int64_t n, float* images, int64_t* labels) override {
    for (int64_t i = 0; i < n; ++i) {
      const std::string& file = files_[static_cast<size_t>(start + i)];
      int fd = OpenForRead(file);
      struct stat st;
      if (::fstat(fd, &st) != 0 || st.st_size != kSlimRecordBytes) {
        ::close(fd);
        throw DemoError("data file " + file + " is " + std::to_string((long long)st.st_size) +
                            " bytes, expected " + std::to_string(kSlimRecordBytes) +
                            " (602112 bytes of float32 3x224x224 + a 4-byte int label)",
                        "re-create the <i>.data files, or use a .bin dataset");
      }
      try {
        ReadExact(fd, images + i * kImageFloats, kImageBytes, 0, file);
        int32_t label = 0;
        ReadExact(fd, &label, 4, kImageBytes, file);
        labels[i] = label;
      } catch (...) {
        ::close(fd);
        throw;
      }
      ::close(fd);
    }
  }

 private:
  std::vector<std::string> files_;
};

// <i>.data files of a folder, ordered by i; they must be 0..N-1 without gaps.
std::vector<std::string> SlimFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    throw DemoError("cannot read data folder " + dir + ": " + std::strerror(errno),
                    "check the path given to --data_dir/--data_file");
  }
  std::vector<std::pair<int64_t, std::string>> found;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".data") != 0) continue;
    std::string stem = name.substr(0, name.size() - 5);
    if (stem.empty() || stem.size() > 18 ||
        !std::all_of(stem.begin(), stem.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    found.emplace_back(std::stoll(stem), dir + "/" + name);
  }
  ::closedir(d);
  if (found.empty()) {
    throw DemoError("data folder " + dir + " holds no <i>.data files (the dataset is empty)",
                    "pass a .bin dataset, or a folder with 0.data, 1.data, ...");
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> files;
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i].first != static_cast<int64_t>(i)) {
      throw DemoError("data folder " + dir + " has a gap: " + std::to_string(i) +
                          ".data is missing (found " + std::to_string(found.size()) + " files)",
                      "the files must be numbered 0.data .. N-1.data");
    }
    files.push_back(found[i].second);
  }
  return files;
}

}  // namespace

std::unique_ptr<Dataset> Dataset::Open(const std::string& path) {
  if (!LittleEndianHost()) {
    throw DemoError("this host is big-endian; the dataset formats are little-endian", "");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    throw DemoError("data file " + path + " does not exist",
                    "create one with `invoke preprocess` or `invoke sample-data`, or fix --data_file");
  }
  if (S_ISDIR(st.st_mode)) return std::make_unique<SlimDataset>(path, SlimFiles(path));
  int fd = OpenForRead(path);
  const bool slim_name = path.size() > 5 && path.compare(path.size() - 5, 5, ".data") == 0;
  if (slim_name && st.st_size == kSlimRecordBytes) {
    ::close(fd);
    return std::make_unique<SlimDataset>(path, std::vector<std::string>{path});
  }
  try {
    return std::make_unique<BinDataset>(path, fd, static_cast<int64_t>(st.st_size));
  } catch (...) {
    ::close(fd);
    throw;
  }
}

std::vector<int64_t> ReadOrderFile(const std::string& path, int64_t images) {
  const std::string fix = "write it with the lab's runner (`invoke run` with a data file), or pass "
                          "little-endian int64 indices of the dataset's images";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw DemoError("order file " + path + " does not exist or is not a file",
                    "check the path given to --order_file");
  }
  if (st.st_size == 0 || st.st_size % 8 != 0) {
    throw DemoError("order file " + path + " is " + std::to_string((long long)st.st_size) +
                        " bytes, not a non-empty multiple of 8 (int64 indices)", fix);
  }
  std::vector<int64_t> order(static_cast<size_t>(st.st_size / 8));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw DemoError("cannot open order file " + path + ": " + std::strerror(errno),
                    "check the path given to --order_file");
  }
  try {
    ReadExact(fd, order.data(), static_cast<size_t>(st.st_size), 0, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i] < 0 || order[i] >= images) {
      throw DemoError("order file " + path + " names image " + std::to_string(order[i]) +
                          " (entry " + std::to_string(i) + ") but the dataset has " +
                          std::to_string(images) + " images",
                      "write the order for this dataset (indices 0.." +
                          std::to_string(images - 1) + ")");
    }
  }
  return order;
}

}  // namespace demo
