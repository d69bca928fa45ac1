# Enforces the dependency rule of cmake/layers.cmake on every #include of src/, tests/, bench/ and fuzz/.
# Run by the build before anything compiles (target strata_layering) and by ctest (test `layering`):
#   cmake -DSTRATA_ROOT=<source dir> [-DSTAMP=<file to touch on success>] -P cmake/check_layers.cmake
# Rules:
#   - a file in src/<layer>/ includes "<other>/..." only if <other> is <layer> or below it;
#   - no "../" includes in src/ (they would step around the rule);
#   - nothing outside src/cli includes cli/ or CLI11 (<CLI/...>): the CLI is the top, and CLI11 is expensive;
#   - headers in src/ use <nlohmann/json_fwd.hpp>, never the full <nlohmann/json.hpp> (build time).
# Why a scan and not per-library include roots: one include root (src/) keeps real paths in diagnostics and debug
# info, and a scan also catches a header that only higher layers happen to compile.
cmake_minimum_required(VERSION 3.25)
if(NOT STRATA_ROOT)
  message(FATAL_ERROR "check_layers.cmake: pass -DSTRATA_ROOT=<source dir>")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/layers.cmake)

set(violations "")
function(strata_scan file rel allowed forbid_relative)
  file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
  foreach(line IN LISTS lines)
    if(line MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
      set(inc ${CMAKE_MATCH_1})
      if(forbid_relative AND inc MATCHES "^\\.\\./")
        list(APPEND violations "${rel}: #include \"${inc}\": no relative includes in src/, name the layer")
      elseif(inc MATCHES "^([a-z_]+)/")
        set(top ${CMAKE_MATCH_1})
        if(top IN_LIST STRATA_LAYERS AND NOT top IN_LIST allowed)
          string(REPLACE ";" ", " may "${allowed}")
          list(APPEND violations "${rel}: #include \"${inc}\": this folder may include only ${may}")
        endif()
      endif()
    elseif(line MATCHES "#[ \t]*include[ \t]*<([^>]+)>")
      set(inc ${CMAKE_MATCH_1})
      if(inc MATCHES "^CLI/" AND NOT rel MATCHES "^src/cli/")
        list(APPEND violations "${rel}: #include <${inc}>: CLI11 belongs in src/cli only")
      elseif(inc STREQUAL "nlohmann/json.hpp" AND rel MATCHES "^src/.*\\.hpp$")
        list(APPEND violations "${rel}: #include <${inc}>: headers include <nlohmann/json_fwd.hpp>")
      endif()
    endif()
  endforeach()
  set(violations ${violations} PARENT_SCOPE)
endfunction()

set(patterns *.hpp *.cpp *.h *.cc *.in)
foreach(layer IN LISTS STRATA_LAYERS)
  strata_layer_allowed(${layer} allowed)
  set(globs "")
  foreach(p IN LISTS patterns)
    list(APPEND globs ${STRATA_ROOT}/src/${layer}/${p})
  endforeach()
  file(GLOB_RECURSE files ${globs})
  foreach(f IN LISTS files)
    file(RELATIVE_PATH rel ${STRATA_ROOT} ${f})
    strata_scan(${f} ${rel} "${allowed}" TRUE)
  endforeach()
endforeach()

# A folder of src/ that is not in the table would escape the rule: make adding one a conscious step.
file(GLOB entries LIST_DIRECTORIES true RELATIVE ${STRATA_ROOT}/src ${STRATA_ROOT}/src/*)
foreach(e IN LISTS entries)
  if(IS_DIRECTORY ${STRATA_ROOT}/src/${e} AND NOT e IN_LIST STRATA_LAYERS)
    list(APPEND violations "src/${e}/ is not a layer: add it to cmake/layers.cmake with the layers below it")
  endif()
endforeach()

# Tests, benchmarks and fuzzers may use every layer except the CLI, which nothing includes.
set(below_cli ${STRATA_LAYERS})
list(REMOVE_ITEM below_cli cli)
foreach(dir tests bench fuzz)
  set(globs "")
  foreach(p IN LISTS patterns)
    list(APPEND globs ${STRATA_ROOT}/${dir}/${p})
  endforeach()
  file(GLOB_RECURSE files ${globs})
  foreach(f IN LISTS files)
    file(RELATIVE_PATH rel ${STRATA_ROOT} ${f})
    strata_scan(${f} ${rel} "${below_cli}" FALSE)
  endforeach()
endforeach()

if(violations)
  list(LENGTH violations n)
  string(REPLACE ";" "\n  " text "${violations}")
  message(FATAL_ERROR "dependency rule broken (${n}; see cmake/layers.cmake and docs/ARCHITECTURE.md):\n  ${text}")
endif()
if(STAMP)
  file(TOUCH ${STAMP})
endif()
