// Errors the demo reports as one clear block: what is wrong, where, how to fix it.
#pragma once
#include <stdexcept>
#include <string>

namespace demo {

// Bad input (files, data, flags). exit_code 2 is for command-line usage errors.
class DemoError : public std::runtime_error {
 public:
  DemoError(const std::string& what, const std::string& hint = "", int exit_code = 1)
      : std::runtime_error(what), hint_(hint), exit_code_(exit_code) {}
  const std::string& hint() const { return hint_; }
  int exit_code() const { return exit_code_; }

 private:
  std::string hint_;
  int exit_code_;
};

// Prints "<program>: error: ..." (+ "  fix: ...") to stderr; returns the exit code.
int ReportError(const std::string& program, const std::exception& err);

}  // namespace demo
