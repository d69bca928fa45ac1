# ctest `layering_selftest`: the checker must refuse a tree that breaks each rule, naming file and include, and
# accept one that keeps them. Run as: cmake -DWORK=<empty dir> -P cmake/check_layers_selftest.cmake
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK})
file(WRITE ${WORK}/good/src/repo/layout.hpp "inline constexpr const char* kData = \"data/\";\n")
file(WRITE ${WORK}/good/src/repo/k.cpp "// a comment may name \"backups/<id>\"\nauto k = layout::kData;\n")
file(WRITE ${WORK}/bad/src/tiering/k.cpp "auto k = \"tier/\" + name; // why\n")
file(WRITE ${WORK}/good/src/common/a.hpp "#include \"common/b.hpp\"\n#include <nlohmann/json_fwd.hpp>\n")
file(WRITE ${WORK}/good/src/repo/r.cpp
  "#include \"io/x.hpp\"\n#include \"storage/s.hpp\"\n#include <nlohmann/json.hpp>\n")
file(WRITE ${WORK}/good/src/cli/main.cpp
  "#include \"engines/e.hpp\"\n#include \"tiering/t.hpp\"\n#include <CLI/CLI.hpp>\n")
file(WRITE ${WORK}/good/src/platform/scheduler/s.cpp "#include \"app/a.hpp\"\n#include \"repo/x.hpp\"\n")
file(WRITE ${WORK}/good/src/cli/cmd.cpp "#include \"platform/scheduler/s.hpp\"\n#include \"platform/retention/p.hpp\"\n")
file(WRITE ${WORK}/good/tests/repo/r_test.cpp "#include \"../common/test_helpers.hpp\"\n#include \"engines/e.hpp\"\n")
file(WRITE ${WORK}/bad/src/repo/r.hpp
  "#include \"engines/engine.hpp\"\n  #  include \"../io/x.hpp\"\n#include <nlohmann/json.hpp>\n")
file(WRITE ${WORK}/bad/src/engines/e.cpp "#include \"tiering/t.hpp\"\n#include \"cli/context.hpp\"\n")
file(WRITE ${WORK}/bad/src/storage/s.cpp "#include \"io/pipeline.hpp\"\n#include <CLI/CLI.hpp>\n")
file(WRITE ${WORK}/bad/src/surprise/x.cpp "\n")
file(WRITE ${WORK}/bad/src/engines/env.cpp "void f() {\n  ::setenv(\"PGPASSWORD\", pw, 1);\n  unsetenv (\"X\");\n}\n")
file(WRITE ${WORK}/good/src/common/env.cpp "const char* v = std::getenv(\"PATH\"); // a ChildEnv, never setenv\nmy_setenv_like(1);\n")
file(WRITE ${WORK}/bad/src/platform/retention/p.cpp
  "#include \"platform/scheduler/s.hpp\"\n#include \"platform/plan.hpp\"\n")
file(WRITE ${WORK}/bad/src/app/a.cpp "#include \"platform/retention/p.hpp\"\n")
file(WRITE ${WORK}/bad/src/platform/loose.cpp "\n")
file(WRITE ${WORK}/bad/src/platform/nosuch/x.cpp "\n")
file(WRITE ${WORK}/bad/tests/cli/c_test.cpp "#include \"cli/context.hpp\"\n")

set(check ${CMAKE_CURRENT_LIST_DIR}/check_layers.cmake)
execute_process(COMMAND ${CMAKE_COMMAND} -DSTRATA_ROOT=${WORK}/good -P ${check} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "a tree that keeps the rule was refused:\n${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -DSTRATA_ROOT=${WORK}/bad -P ${check} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "a tree that breaks the rule was accepted")
endif()
string(REGEX REPLACE "[ \t\r\n]+" " " err "${err}")
foreach(expected
    "dependency rule broken (17;"
    "src/tiering/k.cpp: the key prefix \"tier/\" is spelled here: use repo/layout.hpp"
    "src/platform/retention/p.cpp: #include \"platform/scheduler/s.hpp\": this folder may include only platform/retention, app,"
    "src/platform/retention/p.cpp: #include \"platform/plan.hpp\": platform/ is a group of layers, name one of its folders"
    "src/app/a.cpp: #include \"platform/retention/p.hpp\": this folder may include only app, engines, tiering,"
    "src/platform/loose.cpp: a group folder holds only layer folders"
    "src/platform/nosuch/ is not a layer"
    "src/repo/r.hpp: #include \"engines/engine.hpp\": this folder may include only repo, io, storage, common"
    "src/repo/r.hpp: #include \"../io/x.hpp\": no relative includes in src/"
    "src/repo/r.hpp: #include <nlohmann/json.hpp>: headers include <nlohmann/json_fwd.hpp>"
    "src/engines/e.cpp: #include \"tiering/t.hpp\": this folder may include only engines, repo, io, storage, common"
    "src/engines/e.cpp: #include \"cli/context.hpp\""
    "src/storage/s.cpp: #include \"io/pipeline.hpp\": this folder may include only storage, common"
    "src/storage/s.cpp: #include <CLI/CLI.hpp>: CLI11 belongs in src/cli only"
    "src/surprise/ is not a layer"
    "tests/cli/c_test.cpp: #include \"cli/context.hpp\""
    "src/engines/env.cpp: calls setenv(): pass the variable to that child in a ChildEnv"
    "src/engines/env.cpp: calls unsetenv(): pass")
  string(FIND "${err}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the checker's report lacks '${expected}':\n${err}")
  endif()
endforeach()
