// Latency statistics and the final JSON line both programs print.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace demo {

struct LatencyStats {
  int64_t count = 0;
  double min = 0, mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;  // ms
};

// Percentiles by linear interpolation between closest ranks (numpy's default),
// the same definition as toolchain.runners.result.percentile.
LatencyStats Summarize(std::vector<double> samples_ms);

// Builds one JSON object, in insertion order.
class JsonObject {
 public:
  JsonObject& Str(const std::string& key, const std::string& value);
  JsonObject& Int(const std::string& key, int64_t value);
  JsonObject& Num(const std::string& key, double value);
  JsonObject& Bool(const std::string& key, bool value);
  JsonObject& Raw(const std::string& key, const std::string& json);
  JsonObject& IntList(const std::string& key, const std::vector<int64_t>& values);
  JsonObject& StrList(const std::string& key, const std::vector<std::string>& values);
  std::string Dump() const;

 private:
  std::string body_;
  void Key(const std::string& key);
};

std::string JsonString(const std::string& s);
std::string StatsJson(const LatencyStats& s);
void PrintStats(const LatencyStats& s, int batch_size);

}  // namespace demo
