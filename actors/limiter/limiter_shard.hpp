// A limiter shard: the actor that owns one hash range of rate-limit keys
// (user, ip, user_ip) with their GCRA buckets, failure counters and lockouts.
// A login asks every shard that owns one of its keys BEFORE any password is
// hashed; the shards learn the outcome afterwards from the event stream.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>

#include "actors/runtime/atoms.hpp"
#include "actors/runtime/fan_in.hpp"

#include "actors/limiter/limiter_table.hpp"
#include "actors/sessions/session_messages.hpp"
#include "actors/limiter/limiter_metrics.hpp"

namespace prometheus {
class Gauge;
}

namespace castellan::actors {

class event_stream;

// One owner's answer to a login's check (a shard's, or a member's): its most
// restrictive decision and the kind of key that made it.
struct limit_answer {
  decision d;
  key_kind refused_by = key_kind::user;
};

// Adds `a` to `worst`: a failed check (an owner lost or never answered it)
// fails the whole, since a key went unchecked; otherwise the refusal with the
// longest retry_after wins.
void fold_limit(limit_answer& worst, limit_answer&& a);

// The answers of every owner one login asked (fan_in.hpp): `done` runs once
// with the joined answer. A part dropped unanswered (a check lost with a
// crashed or stopped shard, a member that did not answer in time) counts as
// failed, so the login hears `unavailable` instead of waiting forever.
using limit_join = fan_in<limit_answer>;
using limit_part = limit_join::part;
limit_join make_limit_join(std::function<void(const decision&, key_kind)> done);

struct limit_check {
  std::vector<limit_key> keys;  // the keys of one login that this shard owns
  limit_part part;              // answered once; dropped unanswered: failed
};

struct limit_outcome {
  std::vector<limit_key> keys;
  bool success = false;
  std::string user;  // for the lockout events
  std::string ip;
};

// Lockouts another member started or ended for keys this node also holds
// (cluster replication): applied to the table, recorded, then done(durable).
struct lockout_apply {
  std::vector<net::auth_event> events;
  std::function<void(bool)> done;
};

struct limiter_settings {
  rate_policies policies;
  size_t max_keys = 1000000;         // this shard's share
  int64_t sweep_interval_ms = 1000;
  size_t sweep_budget = 10000;       // keys visited per sweep
  actors::limiter_metrics* metrics = nullptr;  // may be null; outlives the shard
  prometheus::Gauge* mailbox_depth = nullptr;   // this shard's, may be null
  prometheus::Gauge* protected_keys = nullptr;  // this shard's, may be null
};

using limiter_shard = caf::typed_actor<
  // Answers through check.part: allowed (a unit reserved in each bucket),
  // refused with retry_after_ms (rate exceeded or locked out), or failed +
  // full (no room for a new key but protected ones). Fast: no I/O.
  caf::reacts_to<limit_check>,
  // Learns a login's outcome: a success refunds and clears failures; a
  // failure may start a lockout (published as lockout_started).
  caf::reacts_to<limit_outcome>,
  // Replaces the policies (config reload).
  caf::reacts_to<rate_policies>,
  // Cluster: a lockout the key's owner started or ended.
  caf::reacts_to<lockout_apply>,
  // Cluster: the holders changed; sends the lockouts in force to members
  // that now hold their keys too (buckets are not handed over).
  caf::reacts_to<rebalance>,
  // Fault injection: throws; the buckets survive (the table outlives the actor).
  caf::reacts_to<crash_atom>>;

// `table` is owned outside the actor so that a restart keeps every bucket
// and lockout.
limiter_shard spawn_limiter_shard(caf::actor_system& sys, const limiter_settings& settings,
                                  std::shared_ptr<limiter_table> table,
                                  std::shared_ptr<event_stream> events);

// Which of `count` shards owns `key`.
size_t limiter_index(const limit_key& key, size_t count);

}  // namespace castellan::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::limit_check)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::limit_outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::rate_policies)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::lockout_apply)
