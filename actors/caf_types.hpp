// Castellan's CAF type registrations and atoms, in one place. Include only
// from actors/*.cpp: it pulls in CAF headers.
#pragma once

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/type_id.hpp>

#include "actors/audit_writer.hpp"
#include "actors/limiter_shard.hpp"
#include "actors/shard_messages.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(castellan, caf::first_custom_type_id)
  CAF_ADD_ATOM(castellan, castellan::actors, sweep_atom, "sweep")
  CAF_ADD_ATOM(castellan, castellan::actors, reload_atom, "reload")
  CAF_ADD_ATOM(castellan, castellan::actors, flush_atom, "flush")
  CAF_ADD_ATOM(castellan, castellan::actors, retry_atom, "retry")
  CAF_ADD_ATOM(castellan, castellan::actors, crash_atom, "crash")
CAF_END_TYPE_ID_BLOCK(castellan)

// Local-only: these carry shared_ptrs to reply sinks and snapshots, which
// never leave the process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::session_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::open_session)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::users_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::drop_session)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::audit_append)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::limit_check)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::limit_outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::rate_policies)
