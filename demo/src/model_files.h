// Which files of a model folder to load.
#pragma once
#include <string>

#include "options.h"

namespace demo {

struct ModelFiles {
  std::string prog_file;    // empty for an uncombined __model__ folder
  std::string params_file;
  std::string dir;          // set for an uncombined __model__ folder (SetModel(dir))
  std::string layout;       // "pdmodel" | "json" | "combined" | "__model__" | "files"
};

// --model_file/--params_file if given, else the first of these in --model_dir:
// inference.pdmodel+inference.pdiparams, inference.json+inference.pdiparams,
// model+params, __model__ (+ one file per parameter), or a single *.pdmodel /
// *.json with its *.pdiparams. Throws DemoError naming what it looked for.
ModelFiles FindModelFiles(const Options& opts);

}  // namespace demo
