#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace demo {

LatencyStats Summarize(std::vector<double> s) {
  LatencyStats r;
  if (s.empty()) return r;
  std::sort(s.begin(), s.end());
  auto pct = [&](double q) {
    double pos = (s.size() - 1) * q / 100.0;
    size_t lo = static_cast<size_t>(std::floor(pos)), hi = static_cast<size_t>(std::ceil(pos));
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
  };
  r.count = static_cast<int64_t>(s.size());
  r.min = s.front();
  r.max = s.back();
  r.mean = std::accumulate(s.begin(), s.end(), 0.0) / s.size();
  r.p50 = pct(50);
  r.p90 = pct(90);
  r.p99 = pct(99);
  return r;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

static std::string Number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

void JsonObject::Key(const std::string& key) {
  body_ += (body_.empty() ? "" : ", ") + JsonString(key) + ": ";
}
JsonObject& JsonObject::Str(const std::string& k, const std::string& v) {
  Key(k);
  body_ += JsonString(v);
  return *this;
}
JsonObject& JsonObject::Int(const std::string& k, int64_t v) {
  Key(k);
  body_ += std::to_string(v);
  return *this;
}
JsonObject& JsonObject::Num(const std::string& k, double v) {
  Key(k);
  body_ += Number(v);
  return *this;
}
JsonObject& JsonObject::Bool(const std::string& k, bool v) {
  Key(k);
  body_ += v ? "true" : "false";
  return *this;
}
JsonObject& JsonObject::Raw(const std::string& k, const std::string& json) {
  Key(k);
  body_ += json;
  return *this;
}
JsonObject& JsonObject::IntList(const std::string& k, const std::vector<int64_t>& v) {
  std::string list = "[";
  for (size_t i = 0; i < v.size(); ++i) list += (i ? ", " : "") + std::to_string(v[i]);
  return Raw(k, list + "]");
}
JsonObject& JsonObject::StrList(const std::string& k, const std::vector<std::string>& v) {
  std::string list = "[";
  for (size_t i = 0; i < v.size(); ++i) list += (i ? ", " : "") + JsonString(v[i]);
  return Raw(k, list + "]");
}
std::string JsonObject::Dump() const { return "{" + body_ + "}"; }

std::string StatsJson(const LatencyStats& s) {
  return JsonObject()
      .Int("count", s.count)
      .Num("min", s.min)
      .Num("mean", s.mean)
      .Num("p50", s.p50)
      .Num("p90", s.p90)
      .Num("p99", s.p99)
      .Num("max", s.max)
      .Dump();
}

void PrintStats(const LatencyStats& s, int batch_size) {
  std::printf("latency per batch of %d (ms, %lld runs; timer: input copy + run + output copy)\n",
              batch_size, static_cast<long long>(s.count));
  std::printf("  min %.4f  mean %.4f  p50 %.4f  p90 %.4f  p99 %.4f  max %.4f\n", s.min, s.mean,
              s.p50, s.p90, s.p99, s.max);
  if (s.mean > 0) std::printf("throughput: %.2f images/s\n", batch_size * 1000.0 / s.mean);
}

}  // namespace demo
