# PaddleInference.cmake: an installed Paddle Inference library (1.8 to 3.x, CPU or
# GPU + TensorRT) as the IMPORTED target PaddleInference::paddle_inference, which
# carries all a program linking it needs:
#   - include dirs: paddle/include, the library root, third_party/install/*/include
#     and the header-only third_party parts, TensorRT's include dir;
#   - compile definitions: the C++ API generation (PADDLE_API_1X), the optional
#     calls the headers declare (PADDLE_HAS_*), the EnableTensorRtEngine generation
#     (PADDLE_TRT_SIGNATURE), what version.txt says (PADDLE_LIB_*), and the
#     _GLIBCXX_USE_CXX11_ABI the library was built with;
#   - link libraries: the main library, the 2.6/3.x split ones (libcommon, libphi*),
#     for GPU builds the CUDA runtime and TensorRT;
#   - the RPATH, as DT_RPATH: paddle/lib, third_party/install/*/lib(64), CUDA, cuDNN
#     (CUDNN_ROOT) and TensorRT lib dirs (PADDLE_RPATH holds the list).
# Programs that link it set BUILD_WITH_INSTALL_RPATH (and no INSTALL_RPATH), so
# CMake adds no RPATH of its own and the target's is the whole of it.
#
# Inputs (cache variables, the names of Paddle's own build): PADDLE_LIB (required),
# WITH_GPU, WITH_TENSORRT, TENSORRT_ROOT, CUDA_ROOT; optional CUDNN_ROOT, PADDLE_API
# (AUTO|2.x|1.x), PADDLE_CXX11_ABI (AUTO|0|1). Needs a project with CXX enabled.
# See demo/README.md.
include_guard(GLOBAL)
if(NOT CMAKE_CXX_COMPILER_LOADED)
  message(FATAL_ERROR "PaddleInference.cmake needs C++ enabled first: project(... LANGUAGES CXX)")
endif()

set(PADDLE_LIB "" CACHE PATH
    "Installed Paddle Inference library: the folder holding paddle/include, paddle/lib, version.txt")
option(WITH_GPU "Build for a GPU library: link the CUDA runtime, put CUDA on the RPATH" OFF)
option(WITH_TENSORRT "Link TensorRT and put it on the RPATH (needs WITH_GPU)" OFF)
set(TENSORRT_ROOT "" CACHE PATH "TensorRT root (include/, lib/); default: system paths")
set(CUDA_ROOT "" CACHE PATH "CUDA toolkit root; default: what CMake's CUDAToolkit finds")
set(CUDNN_ROOT "" CACHE PATH "cuDNN root; its lib dir goes on the RPATH when given")
set(PADDLE_API "AUTO" CACHE STRING "Paddle C++ API: AUTO (from the header), 2.x (2.x/3.x) or 1.x")
set_property(CACHE PADDLE_API PROPERTY STRINGS AUTO 2.x 1.x)
set(PADDLE_CXX11_ABI "AUTO" CACHE STRING "_GLIBCXX_USE_CXX11_ABI: AUTO (from the library), 0 or 1")
set_property(CACHE PADDLE_CXX11_ABI PROPERTY STRINGS AUTO 0 1)

# ---- the library: where it is and which layout --------------------------------
if(NOT PADDLE_LIB)
  message(FATAL_ERROR
    "PADDLE_LIB is not set.\n"
    "  fix: cmake -DPADDLE_LIB=/path/to/paddle_inference ... (the folder of an installed "
    "Paddle Inference library, with paddle/include, paddle/lib and version.txt; "
    "`invoke fetch-lib` installs one, `invoke build-demo` passes it for you)")
endif()
get_filename_component(PADDLE_ROOT "${PADDLE_LIB}" ABSOLUTE)
if(NOT IS_DIRECTORY "${PADDLE_ROOT}")
  message(FATAL_ERROR "PADDLE_LIB=${PADDLE_ROOT} does not exist or is not a folder.\n"
                      "  fix: point -DPADDLE_LIB at an installed Paddle Inference library")
endif()
set(PADDLE_INCLUDE_DIR "${PADDLE_ROOT}/paddle/include")
set(PADDLE_LIB_DIR "${PADDLE_ROOT}/paddle/lib")
if(NOT EXISTS "${PADDLE_INCLUDE_DIR}/paddle_inference_api.h")
  set(_hint "point -DPADDLE_LIB at the folder that holds paddle/include, paddle/lib and version.txt")
  foreach(_wrapper paddle_inference paddle_inference_install_dir fluid_inference
                   fluid_inference_install_dir)
    if(EXISTS "${PADDLE_ROOT}/${_wrapper}/paddle/include/paddle_inference_api.h")
      set(_hint "use -DPADDLE_LIB=${PADDLE_ROOT}/${_wrapper}")
    endif()
  endforeach()
  message(FATAL_ERROR
    "PADDLE_LIB=${PADDLE_ROOT} is not a Paddle Inference library: "
    "paddle/include/paddle_inference_api.h is missing.\n  fix: ${_hint}")
endif()
if(EXISTS "${PADDLE_LIB_DIR}/libpaddle_inference.so")
  set(PADDLE_MAIN_LIB "${PADDLE_LIB_DIR}/libpaddle_inference.so")   # 2.x / 3.x
elseif(EXISTS "${PADDLE_LIB_DIR}/libpaddle_fluid.so")
  set(PADDLE_MAIN_LIB "${PADDLE_LIB_DIR}/libpaddle_fluid.so")       # 1.x
else()
  message(FATAL_ERROR
    "PADDLE_LIB=${PADDLE_ROOT} has no shared library: neither "
    "paddle/lib/libpaddle_inference.so (2.x/3.x) nor paddle/lib/libpaddle_fluid.so (1.x).\n"
    "  fix: use a complete library (the demo links the shared one, not the .a)")
endif()

# ---- version.txt ----------------------------------------------------------------
set(PADDLE_VERSION_TXT_VERSION "")
set(PADDLE_VERSION_TXT_GPU -1)
set(PADDLE_VERSION_TXT_ONEDNN -1)
set(PADDLE_VERSION_TXT_CXX "")
if(EXISTS "${PADDLE_ROOT}/version.txt")
  file(STRINGS "${PADDLE_ROOT}/version.txt" _lines)
  foreach(_line IN LISTS _lines)
    if(_line MATCHES "^([^:#]+):[ \t]*([^# \t]*)")
      string(TOUPPER "${CMAKE_MATCH_1}" _key)
      string(STRIP "${_key}" _key)
      set(_value "${CMAKE_MATCH_2}")
      if(_key STREQUAL "PADDLE VERSION")
        set(PADDLE_VERSION_TXT_VERSION "${_value}")
      elseif(_key STREQUAL "WITH_GPU")
        if(_value STREQUAL "ON")
          set(PADDLE_VERSION_TXT_GPU 1)
        else()
          set(PADDLE_VERSION_TXT_GPU 0)
        endif()
      elseif(_key STREQUAL "WITH_MKLDNN" OR _key STREQUAL "WITH_ONEDNN")
        if(_value STREQUAL "ON")
          set(PADDLE_VERSION_TXT_ONEDNN 1)
        else()
          set(PADDLE_VERSION_TXT_ONEDNN 0)
        endif()
      elseif(_key STREQUAL "CXX COMPILER VERSION")
        set(PADDLE_VERSION_TXT_CXX "${_value}")
      endif()
    endif()
  endforeach()
else()
  message(WARNING "${PADDLE_ROOT}/version.txt is missing; GPU/oneDNN support and the compiler "
                  "of the library are unknown")
endif()

# ---- API generation and optional calls, read from the headers -------------------
file(READ "${PADDLE_INCLUDE_DIR}/paddle_inference_api.h" _api_header)
set(_config_header "${_api_header}")
if(EXISTS "${PADDLE_INCLUDE_DIR}/paddle_analysis_config.h")
  file(READ "${PADDLE_INCLUDE_DIR}/paddle_analysis_config.h" _config_header)
endif()
if(PADDLE_API STREQUAL "AUTO")
  string(FIND "${_api_header}" "namespace paddle_infer" _pos)
  if(_pos GREATER -1)
    set(PADDLE_API_RESOLVED "2.x")
  else()
    set(PADDLE_API_RESOLVED "1.x")
  endif()
elseif(PADDLE_API STREQUAL "2.x" OR PADDLE_API STREQUAL "1.x")
  set(PADDLE_API_RESOLVED "${PADDLE_API}")
else()
  message(FATAL_ERROR "PADDLE_API=${PADDLE_API}: use AUTO, 2.x or 1.x")
endif()
if(PADDLE_API_RESOLVED STREQUAL "1.x")
  set(_api_1x 1)
else()
  set(_api_1x 0)
endif()

# EnableTensorRtEngine has three generations (paddle_api_notes.md 2.2):
# 1 = int workspace (1.6..2.3), 2 = int64_t workspace (2.4), 3 = + use_cuda_graph (2.5..3.x).
set(PADDLE_TRT_SIGNATURE 1)
string(REGEX MATCH "EnableTensorRtEngine[ \t\r\n]*\\([^;]*;" _trt_decl "${_config_header}")
if(_trt_decl MATCHES "use_cuda_graph")
  set(PADDLE_TRT_SIGNATURE 3)
elseif(_trt_decl MATCHES "int64_t[ \t\r\n]+workspace_size")
  set(PADDLE_TRT_SIGNATURE 2)
endif()
function(_paddle_has_call out name)
  string(REGEX MATCH "[ \t\r\n]${name}[ \t\r\n]*\\(" _m "${_config_header}")
  if(_m)
    set(${out} 1 PARENT_SCOPE)
  else()
    set(${out} 0 PARENT_SCOPE)
  endif()
endfunction()
_paddle_has_call(_has_enable_mkldnn EnableMKLDNN)
_paddle_has_call(_has_enable_onednn EnableONEDNN)
_paddle_has_call(_has_disable_mkldnn DisableMKLDNN)
_paddle_has_call(_has_mkldnn_int8 EnableMkldnnInt8)
_paddle_has_call(_has_onednn_int8 EnableOnednnInt8)
_paddle_has_call(_has_mkldnn_bf16 EnableMkldnnBfloat16)
_paddle_has_call(_has_onednn_bf16 EnableOnednnBfloat16)
_paddle_has_call(_has_new_ir EnableNewIR)
_paddle_has_call(_has_optim_cache_dir SetOptimCacheDir)
_paddle_has_call(_has_disable_glog_info DisableGlogInfo)

# ---- _GLIBCXX_USE_CXX11_ABI: must match the library, or linking fails ------------
# (undefined paddle::AnalysisConfig::SetModel(std::string const&) and friends).
# AUTO: the library's exported AnalysisConfig::SetModel decides (a std::__cxx11
# string in its mangled name = ABI 1); without nm (or that symbol), version.txt's
# compiler (gcc < 5 = ABI 0); else ABI 1.
set(PADDLE_CXX11_ABI_SOURCE "option")
if(PADDLE_CXX11_ABI STREQUAL "AUTO")
  set(PADDLE_CXX11_ABI_RESOLVED "")
  # The main library may be a GNU ld script (INPUT(/path/libX.so ...)): look at the
  # first shared library it names.
  set(_abi_lib "${PADDLE_MAIN_LIB}")
  file(READ "${PADDLE_MAIN_LIB}" _head LIMIT 4096 HEX)
  if(_head MATCHES "^7f454c46")                       # "\x7fELF": a real shared object
  else()
    file(READ "${PADDLE_MAIN_LIB}" _script LIMIT 4096)
    if(_script MATCHES "(INPUT|GROUP)[ \t]*\\([ \t]*([^ \t\\)]+)")
      set(_abi_lib "${CMAKE_MATCH_2}")
    endif()
  endif()
  if(CMAKE_NM)
    # AnalysisConfig::SetModel(std::string const&, ...) is in every Paddle version:
    # "...SetModelERKNSt7__cxx11..." = ABI 1, "...SetModelERKSs..." = ABI 0.
    execute_process(COMMAND "${CMAKE_NM}" -D --defined-only "${_abi_lib}"
                    COMMAND grep "AnalysisConfig8SetModel"
                    OUTPUT_VARIABLE _setmodel_syms ERROR_QUIET)
    if(_setmodel_syms MATCHES "__cxx11")
      set(PADDLE_CXX11_ABI_RESOLVED 1)
    elseif(_setmodel_syms MATCHES "SetModel")
      set(PADDLE_CXX11_ABI_RESOLVED 0)
    endif()
    if(NOT PADDLE_CXX11_ABI_RESOLVED STREQUAL "")
      set(PADDLE_CXX11_ABI_SOURCE "nm -D ${_abi_lib} (AnalysisConfig::SetModel)")
    endif()
  endif()
  if(PADDLE_CXX11_ABI_RESOLVED STREQUAL "" AND PADDLE_VERSION_TXT_CXX MATCHES "^([0-9]+)")
    if(CMAKE_MATCH_1 LESS 5)
      set(PADDLE_CXX11_ABI_RESOLVED 0)
    else()
      set(PADDLE_CXX11_ABI_RESOLVED 1)
    endif()
    set(PADDLE_CXX11_ABI_SOURCE "version.txt CXX compiler version ${PADDLE_VERSION_TXT_CXX}")
  endif()
  if(PADDLE_CXX11_ABI_RESOLVED STREQUAL "")
    set(PADDLE_CXX11_ABI_RESOLVED 1)
    set(PADDLE_CXX11_ABI_SOURCE "default (no nm, no compiler in version.txt)")
  endif()
elseif(PADDLE_CXX11_ABI STREQUAL "0" OR PADDLE_CXX11_ABI STREQUAL "1")
  set(PADDLE_CXX11_ABI_RESOLVED "${PADDLE_CXX11_ABI}")
else()
  message(FATAL_ERROR "PADDLE_CXX11_ABI=${PADDLE_CXX11_ABI}: use AUTO, 0 or 1")
endif()

# ---- include and library dirs: only those that exist ---------------------------
set(_paddle_include_dirs "${PADDLE_INCLUDE_DIR}" "${PADDLE_ROOT}")
foreach(_dir threadpool boost eigen3)                  # header-only parts, where shipped
  if(IS_DIRECTORY "${PADDLE_ROOT}/third_party/${_dir}")
    list(APPEND _paddle_include_dirs "${PADDLE_ROOT}/third_party/${_dir}")
  endif()
endforeach()
set(PADDLE_RPATH "${PADDLE_LIB_DIR}")
set(PADDLE_EXTRA_LIBS "")
foreach(_name common phi phi_core phi_gpu)           # 2.6/3.x split libraries
  if(EXISTS "${PADDLE_LIB_DIR}/lib${_name}.so")
    list(APPEND PADDLE_EXTRA_LIBS "${PADDLE_LIB_DIR}/lib${_name}.so")
  endif()
endforeach()
set(PADDLE_THIRD_PARTY "")
file(GLOB _tp_dirs LIST_DIRECTORIES true "${PADDLE_ROOT}/third_party/install/*")
list(SORT _tp_dirs)
foreach(_dir IN LISTS _tp_dirs)
  if(IS_DIRECTORY "${_dir}")
    get_filename_component(_name "${_dir}" NAME)
    list(APPEND PADDLE_THIRD_PARTY "${_name}")
    if(IS_DIRECTORY "${_dir}/include")
      list(APPEND _paddle_include_dirs "${_dir}/include")
    endif()
    foreach(_sub lib lib64)
      if(IS_DIRECTORY "${_dir}/${_sub}")
        list(APPEND PADDLE_RPATH "${_dir}/${_sub}")
      endif()
    endforeach()
  endif()
endforeach()

# ---- GPU: CUDA runtime and TensorRT --------------------------------------------
set(_paddle_gpu_libs "")
set(_paddle_gpu_definitions "")
if(WITH_GPU)
  if(PADDLE_VERSION_TXT_GPU EQUAL 0)
    message(WARNING "WITH_GPU=ON but ${PADDLE_ROOT}/version.txt says WITH_GPU: OFF; "
                    "--device gpu will be refused at run time")
  endif()
  if(CUDA_ROOT)
    set(CUDAToolkit_ROOT "${CUDA_ROOT}")
  endif()
  find_package(CUDAToolkit)
  if(NOT CUDAToolkit_FOUND)
    message(FATAL_ERROR "WITH_GPU=ON but CMake's CUDAToolkit found no CUDA toolkit.\n"
                        "  fix: pass -DCUDA_ROOT=/usr/local/cuda-X.Y (the toolkit the library was "
                        "built with), or -DWITH_GPU=OFF for a CPU build")
  endif()
  list(APPEND _paddle_gpu_libs CUDA::cudart)   # also brings the CUDA include dir
  # What Paddle's own demos define for GPU builds; the headers may depend on it.
  list(APPEND _paddle_gpu_definitions PADDLE_WITH_CUDA)
  list(APPEND PADDLE_RPATH "${CUDAToolkit_LIBRARY_DIR}")
  if(CUDNN_ROOT)
    foreach(_sub lib lib64 lib/${CMAKE_LIBRARY_ARCHITECTURE})
      if(IS_DIRECTORY "${CUDNN_ROOT}/${_sub}")
        list(APPEND PADDLE_RPATH "${CUDNN_ROOT}/${_sub}")
      endif()
    endforeach()
  endif()
endif()
if(WITH_TENSORRT)
  if(NOT WITH_GPU)
    message(FATAL_ERROR "WITH_TENSORRT=ON needs WITH_GPU=ON")
  endif()
  set(_trt_hints "")
  foreach(_root "${TENSORRT_ROOT}" "$ENV{TENSORRT_ROOT}")
    if(_root)
      list(APPEND _trt_hints "${_root}/lib" "${_root}/lib64"
                             "${_root}/lib/${CMAKE_LIBRARY_ARCHITECTURE}")
    endif()
  endforeach()
  if(NOT "${TENSORRT_ROOT}" STREQUAL "${_PADDLE_TRT_ROOT_SEARCHED}")   # a new root: search again
    unset(TENSORRT_NVINFER CACHE)
    unset(TENSORRT_NVINFER_PLUGIN CACHE)
    unset(TENSORRT_INCLUDE_DIR CACHE)
    set(_PADDLE_TRT_ROOT_SEARCHED "${TENSORRT_ROOT}" CACHE INTERNAL "")
  endif()
  find_library(TENSORRT_NVINFER nvinfer HINTS ${_trt_hints})
  find_library(TENSORRT_NVINFER_PLUGIN nvinfer_plugin HINTS ${_trt_hints})
  if(NOT TENSORRT_NVINFER)
    message(FATAL_ERROR "WITH_TENSORRT=ON but libnvinfer.so was not found "
                        "(TENSORRT_ROOT='${TENSORRT_ROOT}').\n"
                        "  fix: pass -DTENSORRT_ROOT=/path/to/TensorRT-X.Y (the folder with lib/ "
                        "and include/), or -DWITH_TENSORRT=OFF")
  endif()
  get_filename_component(TENSORRT_LIB_DIR "${TENSORRT_NVINFER}" DIRECTORY)
  get_filename_component(_trt_guess_root "${TENSORRT_LIB_DIR}" DIRECTORY)
  find_path(TENSORRT_INCLUDE_DIR NvInfer.h
            HINTS "${TENSORRT_ROOT}/include" "$ENV{TENSORRT_ROOT}/include" "${_trt_guess_root}/include")
  if(TENSORRT_INCLUDE_DIR)
    list(APPEND _paddle_include_dirs "${TENSORRT_INCLUDE_DIR}")
  endif()
  list(APPEND _paddle_gpu_definitions PADDLE_WITH_TENSORRT)
  list(APPEND _paddle_gpu_libs "${TENSORRT_NVINFER}")
  if(TENSORRT_NVINFER_PLUGIN)
    list(APPEND _paddle_gpu_libs "${TENSORRT_NVINFER_PLUGIN}")
  endif()
  list(APPEND PADDLE_RPATH "${TENSORRT_LIB_DIR}")
  if(NOT EXISTS "${TENSORRT_LIB_DIR}/libnvinfer.so")
    message(WARNING "${TENSORRT_LIB_DIR} has no unversioned libnvinfer.so; Paddle dlopen()s "
                    "that exact name, so add the symlink (ln -s libnvinfer.so.N libnvinfer.so)")
  endif()
endif()
list(REMOVE_DUPLICATES PADDLE_RPATH)

# ---- the target ---------------------------------------------------------------------
add_library(PaddleInference::paddle_inference SHARED IMPORTED)
set_target_properties(PaddleInference::paddle_inference PROPERTIES
  IMPORTED_LOCATION "${PADDLE_MAIN_LIB}")
target_include_directories(PaddleInference::paddle_inference INTERFACE ${_paddle_include_dirs})
target_compile_definitions(PaddleInference::paddle_inference INTERFACE
  _GLIBCXX_USE_CXX11_ABI=${PADDLE_CXX11_ABI_RESOLVED}
  PADDLE_API_1X=${_api_1x}
  PADDLE_TRT_SIGNATURE=${PADDLE_TRT_SIGNATURE}
  PADDLE_HAS_ENABLE_MKLDNN=${_has_enable_mkldnn}
  PADDLE_HAS_ENABLE_ONEDNN=${_has_enable_onednn}
  PADDLE_HAS_DISABLE_MKLDNN=${_has_disable_mkldnn}
  PADDLE_HAS_MKLDNN_INT8=${_has_mkldnn_int8}
  PADDLE_HAS_ONEDNN_INT8=${_has_onednn_int8}
  PADDLE_HAS_MKLDNN_BF16=${_has_mkldnn_bf16}
  PADDLE_HAS_ONEDNN_BF16=${_has_onednn_bf16}
  PADDLE_HAS_ENABLE_NEW_IR=${_has_new_ir}
  PADDLE_HAS_SET_OPTIM_CACHE_DIR=${_has_optim_cache_dir}
  PADDLE_HAS_DISABLE_GLOG_INFO=${_has_disable_glog_info}
  PADDLE_LIB_WITH_GPU=${PADDLE_VERSION_TXT_GPU}
  PADDLE_LIB_WITH_ONEDNN=${PADDLE_VERSION_TXT_ONEDNN}
  PADDLE_LIB_VERSION="${PADDLE_VERSION_TXT_VERSION}"
  PADDLE_WITH_SHARED_LIB                     # a shared-library build, as Paddle's demos say
  ${_paddle_gpu_definitions})
target_link_libraries(PaddleInference::paddle_inference INTERFACE ${PADDLE_EXTRA_LIBS})
if(_paddle_gpu_libs)
  # Paddle dlopen()s the CUDA runtime and TensorRT; linking them for real (not
  # dropped by --as-needed) loads them at start-up from the RPATH, so `ldd` shows
  # whether they resolve before a run fails half-way.
  target_link_libraries(PaddleInference::paddle_inference INTERFACE
    "-Wl,--push-state,--no-as-needed" ${_paddle_gpu_libs} "-Wl,--pop-state")
endif()
# DT_RPATH, not DT_RUNPATH: the executable's RPATH also serves the library's own
# dependencies (libdnnl, libiomp5, libcommon ...) and Paddle's dlopen() of
# libnvinfer.so / libcudnn.so, so programs run with no LD_LIBRARY_PATH. One
# -rpath with every dir, none empty (ld.so would read that as the current directory).
string(REPLACE ";" ":" _paddle_rpath_arg "${PADDLE_RPATH}")
target_link_options(PaddleInference::paddle_inference INTERFACE
  "LINKER:--disable-new-dtags" "LINKER:-rpath,${_paddle_rpath_arg}")

message(STATUS "Paddle Inference: ${PADDLE_ROOT}")
message(STATUS "  library:        ${PADDLE_MAIN_LIB} (API ${PADDLE_API_RESOLVED}, "
               "version '${PADDLE_VERSION_TXT_VERSION}')")
message(STATUS "  extra libs:     ${PADDLE_EXTRA_LIBS}")
message(STATUS "  third_party:    ${PADDLE_THIRD_PARTY}")
message(STATUS "  CXX11 ABI:      ${PADDLE_CXX11_ABI_RESOLVED} (from ${PADDLE_CXX11_ABI_SOURCE})")
message(STATUS "  TensorRT call:  generation ${PADDLE_TRT_SIGNATURE}; oneDNN INT8 call: "
               "EnableMkldnnInt8=${_has_mkldnn_int8} EnableOnednnInt8=${_has_onednn_int8}")
message(STATUS "  GPU:            WITH_GPU=${WITH_GPU} WITH_TENSORRT=${WITH_TENSORRT}")
message(STATUS "  RPATH:          ${PADDLE_RPATH}")
