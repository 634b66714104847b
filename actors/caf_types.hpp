// Castellan's CAF message registrations, in one place. Include only from
// actors/*.cpp: it pulls in CAF headers and every actor interface.
#pragma once

#include <caf/allowed_unsafe_message_type.hpp>

#include "actors/atoms.hpp"
#include "actors/audit_writer.hpp"
#include "actors/cluster_node.hpp"
#include "actors/limiter_shard.hpp"
#include "actors/shard_messages.hpp"

// Local-only: these carry shared_ptrs to reply sinks and snapshots, which
// never leave the process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::session_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::open_session)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::users_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::drop_session)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::crash_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::populate_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::populate_sessions)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::replica_apply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::rebalance)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::revoke_sessions)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::forward_ops)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::forward_open)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::replicate_out)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::handover_out)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::handover_finished)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::peer_send)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::limit_out)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::teach_out)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::revoke_out)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::audit_append)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::limit_check)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::limit_outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::rate_policies)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::lockout_apply)
