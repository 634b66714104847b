// Session shard actor: a thin behavior around session_table. Work arrives in
// batches (one per client socket read) and leaves as one buffer of encoded
// reply frames, so a busy connection costs one message each way per read.
#include "actors/session_shard.hpp"

#include <chrono>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/caf_types.hpp"
#include "actors/session_table.hpp"
#include "net/messages.hpp"

namespace castellan::actors {
namespace {

using namespace std::chrono;

int64_t wall_ms() {
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// The shard's own self-messages live on an untyped extension of its interface.
using shard_impl = session_shard::extend<caf::reacts_to<sweep_atom>>;

struct shard_state {
  explicit shard_state() = default;
  std::unique_ptr<session_table> table;
  std::shared_ptr<const net::keyring> keys;
  milliseconds sweep_interval{1000};
  size_t capacity = 0;
  static inline const char* name = "session_shard";
};

void answer(session_table& table, const net::session_op& op, int64_t now,
            net::reply_buffer& out) {
  lookup_result r;
  switch (op.kind) {
    case net::op_kind::validate:
      r = table.validate(op.sid, now);
      if (r.status == lookup_status::ok) {
        out.add(net::validate_reply{op.request_id, true, r.found->user->name,
                                    r.found->user->roles, r.found->expires_ms});
        return;
      }
      break;
    case net::op_kind::refresh:
      r = table.refresh(op.sid, now);
      if (r.status == lookup_status::ok) {
        out.add(net::refresh_reply{op.request_id, true, r.found->expires_ms});
        return;
      }
      break;
    case net::op_kind::logout:
      if (table.logout(op.sid)) {
        out.add(net::logout_reply{op.request_id, true});
        return;
      }
      r.status = lookup_status::unknown;
      break;
    default:
      out.add_error(op.request_id, net::error_code::malformed, "not a session op");
      return;
  }
  if (r.status == lookup_status::expired)
    out.add_error(op.request_id, net::error_code::expired, "session expired");
  else
    out.add_error(op.request_id, net::error_code::invalid_token, "no such session");
}

// Spawned with arguments, not a capturing lambda: CAF 0.17's init_fun_factory
// binds a reference through a null pointer when an actor function takes none
// (caught by UBSan).
shard_impl::behavior_type shard_behavior(shard_impl::stateful_pointer<shard_state> self,
                                         config::sessions_config cfg, size_t capacity,
                                         std::shared_ptr<const net::keyring> keys) {
  self->state.table = std::make_unique<session_table>(cfg);
  self->state.capacity = capacity;
  self->state.keys = std::move(keys);
  self->state.sweep_interval = milliseconds(cfg.sweep_interval_ms);
  self->delayed_send(self, self->state.sweep_interval, sweep_atom_v);
  return {
    [=](session_batch& batch) {
      net::reply_buffer out;
      int64_t now = wall_ms();
      for (auto& op : batch.ops)
        answer(*self->state.table, op, now, out);
      auto n = out.count();
      batch.sink->deliver(out.take(), n);
    },
    [=](open_session& req) {
      net::reply_buffer out;
      if (self->state.table->size() >= self->state.capacity) {
        self->state.table->sweep(wall_ms());  // make room from what is already due
        if (self->state.table->size() >= self->state.capacity) {
          out.add_error(req.request_id, net::error_code::unavailable, "session table full");
          req.sink->deliver(out.take(), 1);
          return;
        }
      }
      auto& s = self->state.table->open(req.sid, req.user, wall_ms());
      out.add(net::login_reply{req.request_id, true, self->state.keys->mint(req.sid),
                               s.user->name, s.user->roles, s.expires_ms});
      req.sink->deliver(out.take(), 1);
    },
    [=](users_update& update) { self->state.table->apply_users(update.users); },
    [=](sweep_atom) {
      self->state.table->sweep(wall_ms());
      self->delayed_send(self, self->state.sweep_interval, sweep_atom_v);
    },
  };
}

}  // namespace

session_shard spawn_session_shard(caf::actor_system& sys, const config::sessions_config& cfg,
                                  size_t capacity, std::shared_ptr<const net::keyring> keys) {
  return caf::actor_cast<session_shard>(sys.spawn(shard_behavior, cfg, capacity, std::move(keys)));
}

size_t shard_index(const net::session_id& sid, size_t shard_count) {
  uint64_t h;
  std::memcpy(&h, sid.data() + 8, sizeof h);  // bytes 0-7 feed the table's hash
  return static_cast<size_t>(h % shard_count);
}

}  // namespace castellan::actors
