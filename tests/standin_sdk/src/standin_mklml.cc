// STAND-IN third-party math library (tests only). It exists so the stand-in
// SDK has a third_party/install/<pkg>/lib dependency that libpaddle_inference.so
// needs at load time, like the real one needs libmklml_intel.so / libdnnl.so.3:
// a demo binary runs without LD_LIBRARY_PATH only if its RPATH covers it.
extern "C" __attribute__((visibility("default"))) double standin_mklml_dot(
    const float* w, const double* x, int n) {
  double acc = 0.0;
  for (int i = 0; i < n; ++i) acc += static_cast<double>(w[i]) * x[i];
  return acc;
}
