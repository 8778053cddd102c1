#include "model_files.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "demo_error.h"

namespace demo {
namespace {

bool IsFile(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void CheckReadable(const std::string& p, const char* what) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) {
    throw DemoError(std::string(what) + " " + p + " does not exist",
                    "check --model_dir / --model_file / --params_file");
  }
  if (!S_ISREG(st.st_mode)) throw DemoError(std::string(what) + " " + p + " is not a file", "");
  FILE* f = std::fopen(p.c_str(), "rb");
  if (!f) {
    throw DemoError(std::string(what) + " " + p + " cannot be read: " + std::strerror(errno),
                    "check the file's permissions");
  }
  std::fclose(f);
  if (st.st_size == 0) throw DemoError(std::string(what) + " " + p + " is empty", "re-export the model");
}

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ModelFiles FindModelFiles(const Options& o) {
  ModelFiles m;
  if (!o.model_file.empty()) {
    m.prog_file = o.model_file;
    m.params_file = o.params_file;
    m.layout = "files";
    CheckReadable(m.prog_file, "model file");
    const size_t slash = m.prog_file.rfind('/');
    const std::string base = slash == std::string::npos ? m.prog_file : m.prog_file.substr(slash + 1);
    if (m.params_file.empty() && base == "__model__") {  // uncombined 1.x model: load its folder
      m.dir = slash == std::string::npos ? "." : m.prog_file.substr(0, slash);
      m.prog_file.clear();
      m.layout = "__model__";
      return m;
    }
    if (m.params_file.empty()) {
      throw DemoError("--model_file needs --params_file", "pass --params_file=FILE.pdiparams");
    }
    CheckReadable(m.params_file, "params file");
    return m;
  }
  const std::string& dir = o.model_dir;
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw DemoError("model folder " + dir + " does not exist",
                    "export a model (e.g. `invoke models`) or fix --model_dir");
  }
  const struct {
    const char* prog;
    const char* params;
    const char* layout;
  } pairs[] = {{"inference.pdmodel", "inference.pdiparams", "pdmodel"},
               {"inference.json", "inference.pdiparams", "json"},
               {"model", "params", "combined"}};
  for (const auto& p : pairs) {
    if (IsFile(dir + "/" + p.prog)) {
      m.prog_file = dir + "/" + p.prog;
      m.params_file = dir + "/" + p.params;
      m.layout = p.layout;
      CheckReadable(m.prog_file, "model file");
      CheckReadable(m.params_file, "params file");
      return m;
    }
  }
  if (IsFile(dir + "/__model__")) {
    CheckReadable(dir + "/__model__", "model file");
    m.dir = dir;
    m.layout = "__model__";
    return m;
  }
  // A single <name>.pdmodel or <name>.json with <name>.pdiparams. Only names with
  // their .pdiparams count, so a sidecar such as lab_model.json does not hide model.json.
  std::vector<std::string> names = List(dir);
  for (const char* ext : {".pdmodel", ".json"}) {
    std::vector<std::string> hits;
    for (const auto& n : names) {
      if (EndsWith(n, ext) &&
          IsFile(dir + "/" + n.substr(0, n.size() - std::strlen(ext)) + ".pdiparams"))
        hits.push_back(n);
    }
    if (hits.size() > 1) {
      throw DemoError("model folder " + dir + " holds several models (" + hits[0] + ", " +
                          hits[1] + (hits.size() > 2 ? ", ..." : "") + ")",
                      "pass --model_file=FILE" + std::string(ext) +
                          " and --params_file=FILE.pdiparams");
    }
    if (hits.size() == 1) {
      const std::string stem = hits[0].substr(0, hits[0].size() - std::strlen(ext));
      m.prog_file = dir + "/" + hits[0];
      m.params_file = dir + "/" + stem + ".pdiparams";
      m.layout = std::string(ext) == ".json" ? "json" : "pdmodel";
      CheckReadable(m.prog_file, "model file");
      CheckReadable(m.params_file, "params file");
      return m;
    }
  }
  std::string seen;
  for (size_t i = 0; i < names.size() && i < 8; ++i) seen += (i ? ", " : "") + names[i];
  if (names.size() > 8) seen += ", ...";
  throw DemoError("no model found in " + dir + " (looked for inference.pdmodel + "
                  "inference.pdiparams, inference.json + inference.pdiparams, model + params, "
                  "__model__, NAME.pdmodel or NAME.json + NAME.pdiparams); it holds: " +
                      (seen.empty() ? std::string("nothing") : seen),
                  "point --model_dir at an exported inference model, or pass --model_file and "
                  "--params_file");
}

}  // namespace demo
