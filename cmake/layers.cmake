# The dependency rule, in one table: every folder of src/ is a layer, and a layer may include and link only the
# layers below it (docs/ARCHITECTURE.md). The root CMakeLists.txt links each layer's library to the layers named
# here; cmake/check_layers.cmake refuses an #include of anything else, so a wrong include fails the build.
#
#   common <- storage <- io <- repo <- engines, tiering <- cli          (nothing includes cli)
#
# Planned layers slot in the same way: app below cli (on engines and tiering), platform on app, server on platform.
set(STRATA_LAYERS common storage io repo engines tiering cli)
set(STRATA_LAYER_BELOW_common "")
set(STRATA_LAYER_BELOW_storage common)
set(STRATA_LAYER_BELOW_io storage)
set(STRATA_LAYER_BELOW_repo io)
set(STRATA_LAYER_BELOW_engines repo)
set(STRATA_LAYER_BELOW_tiering repo)
set(STRATA_LAYER_BELOW_cli engines tiering)

# Every layer `layer` may include: itself and everything reachable below it.
function(strata_layer_allowed layer out)
  set(result ${layer})
  set(todo ${STRATA_LAYER_BELOW_${layer}})
  while(todo)
    list(POP_FRONT todo next)
    if(NOT next IN_LIST result)
      list(APPEND result ${next})
      list(APPEND todo ${STRATA_LAYER_BELOW_${next}})
    endif()
  endwhile()
  set(${out} ${result} PARENT_SCOPE)
endfunction()
