// Castellan's CAF atoms, in one type-id block. Light (caf/type_id.hpp only),
// so actor interface headers may include it.
#pragma once

#include <caf/type_id.hpp>

CAF_BEGIN_TYPE_ID_BLOCK(castellan, caf::first_custom_type_id)
  CAF_ADD_ATOM(castellan, castellan::actors, sweep_atom, "sweep")
  CAF_ADD_ATOM(castellan, castellan::actors, reload_atom, "reload")
  CAF_ADD_ATOM(castellan, castellan::actors, flush_atom, "flush")
  CAF_ADD_ATOM(castellan, castellan::actors, retry_atom, "retry")
  CAF_ADD_ATOM(castellan, castellan::actors, crash_atom, "crash")
  CAF_ADD_ATOM(castellan, castellan::actors, stop_timeout_atom, "stoptimeo")
  CAF_ADD_ATOM(castellan, castellan::actors, cluster_atom, "cluster")
  CAF_ADD_ATOM(castellan, castellan::actors, tick_atom, "tick")
  CAF_ADD_ATOM(castellan, castellan::actors, leave_atom, "leave")
  CAF_ADD_ATOM(castellan, castellan::actors, apply_atom, "apply")
  CAF_ADD_ATOM(castellan, castellan::actors, handed_atom, "handed")
CAF_END_TYPE_ID_BLOCK(castellan)
