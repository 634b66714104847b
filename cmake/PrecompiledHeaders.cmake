# Precompiled headers. Most of a translation unit's compile time here is the
# library headers it parses (CAF, msgpack, Asio, gtest), the same in every
# file of a target: each large target parses them once, into its own
# precompiled header (per target, so it is built with that target's own
# definitions). castellan_precompile(<target> <group>...) takes the standard
# headers plus the named groups below; pick only groups the target links.
# -DCASTELLAN_PCH=OFF builds without them (to check that every file
# includes what it uses).
option(CASTELLAN_PCH "Precompile the common library headers of the large targets" ON)

set(castellan_pch_std <algorithm> <array> <atomic> <chrono> <cstdint> <cstring> <deque> <functional>
  <map> <memory> <mutex> <optional> <set> <string> <string_view> <thread> <unordered_map> <vector>)
set(castellan_pch_caf <caf/actor_system.hpp> <caf/event_based_actor.hpp> <caf/stateful_actor.hpp>
  <caf/send.hpp> <caf/typed_actor.hpp>)
set(castellan_pch_msgpack <msgpack.hpp>)
set(castellan_pch_prometheus <prometheus/counter.h> <prometheus/gauge.h> <prometheus/histogram.h>
  <prometheus/registry.h>)
set(castellan_pch_asio <boost/asio.hpp>)
set(castellan_pch_json <nlohmann/json.hpp>)
set(castellan_pch_gtest <gtest/gtest.h>)

function(castellan_precompile target)
  if(NOT CASTELLAN_PCH)
    return()
  endif()
  set(headers ${castellan_pch_std})
  foreach(group IN LISTS ARGN)
    if(NOT DEFINED castellan_pch_${group})
      message(FATAL_ERROR "castellan_precompile: no header group '${group}'")
    endif()
    list(APPEND headers ${castellan_pch_${group}})
  endforeach()
  target_precompile_headers(${target} PRIVATE ${headers})
endfunction()
