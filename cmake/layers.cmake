# The dependency rule, in one table: every folder of src/ is a layer, and a layer may include and link only the
# layers below it (docs/ARCHITECTURE.md). The root CMakeLists.txt links each layer's library to the layers named
# here; cmake/check_layers.cmake refuses an #include of anything else, so a wrong include fails the build.
#
#   common <- storage <- io <- repo <- engines, tiering <- app <- platform/* <- server/* <- cli   (nothing includes cli)
#
# A layer is a folder of src/ ("repo") or of a group folder ("platform/scheduler": src/platform/scheduler/, library
# strata_platform_scheduler). Folders of one group are peers: platform/retention may not include platform/scheduler
# unless the table says so. A layer listed here whose folder does not exist yet builds nothing; whoever links it gets
# the layers below it instead (so the table can name the planned layers today).
set(STRATA_LAYERS common storage io repo engines tiering app
    platform/catalog platform/notify platform/scheduler platform/queue platform/retention platform/drill platform/agent
    server/http
    cli)
set(STRATA_LAYER_BELOW_common "")
set(STRATA_LAYER_BELOW_storage common)
set(STRATA_LAYER_BELOW_io storage)
set(STRATA_LAYER_BELOW_repo io)
set(STRATA_LAYER_BELOW_engines repo)
set(STRATA_LAYER_BELOW_tiering repo)
set(STRATA_LAYER_BELOW_app engines tiering)
# The catalog is the platform's one store (SQLite or PostgreSQL); the outbox of notify lives in it; the queue claims
# what the scheduler made due; agents run claimed jobs through app. Retention and drills report through notify.
set(STRATA_LAYER_BELOW_platform/catalog app)
set(STRATA_LAYER_BELOW_platform/notify platform/catalog)
set(STRATA_LAYER_BELOW_platform/scheduler app)
set(STRATA_LAYER_BELOW_platform/queue platform/catalog platform/notify platform/scheduler)
set(STRATA_LAYER_BELOW_platform/retention app platform/notify)
set(STRATA_LAYER_BELOW_platform/drill app platform/notify)
set(STRATA_LAYER_BELOW_platform/agent platform/queue)
set(STRATA_LAYER_BELOW_server/http platform/agent platform/queue platform/retention platform/drill)
set(STRATA_LAYER_BELOW_cli server/http platform/agent platform/queue platform/scheduler platform/retention platform/drill)

# The layer an #include path names ("platform/scheduler/cron.hpp" -> platform/scheduler, "repo/x.hpp" -> repo), or
# the group ("platform") when it names a group folder but no layer of it, or "" when it names no layer at all.
function(strata_layer_of_include inc out)
  set(result "")
  set(pair "")
  if(inc MATCHES "^([a-z_]+)/([a-z_]+)/")  # (CMAKE_MATCH_n are read only after the match, hence two steps)
    set(pair "${CMAKE_MATCH_1}/${CMAKE_MATCH_2}")
  endif()
  if(pair AND pair IN_LIST STRATA_LAYERS)
    set(result ${pair})
  elseif(inc MATCHES "^([a-z_]+)/")
    set(top ${CMAKE_MATCH_1})
    if(top IN_LIST STRATA_LAYERS)
      set(result ${top})
    else()
      foreach(l IN LISTS STRATA_LAYERS)
        if(l MATCHES "^${top}/")
          set(result ${top})
        endif()
      endforeach()
    endif()
  endif()
  set(${out} "${result}" PARENT_SCOPE)
endfunction()

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
