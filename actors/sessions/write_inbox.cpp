// write_inbox; see write_inbox.hpp.
#include "actors/sessions/write_inbox.hpp"

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "actors/runtime/atoms.hpp"

namespace castellan::actors {

session_write write_of(session_write::kind what, const net::session_key& key,
                       const net::auth_event& record, uint64_t request_id) {
  session_write w;
  w.what = what;
  w.key = key;
  w.at_ms = record.time_ms;
  w.until_ms = record.until_ms;
  w.request_id = request_id;
  return w;
}

void write_inbox::attach(caf::actor_addr shard) {
  std::lock_guard<std::mutex> guard(mutex_);
  shard_ = std::move(shard);
}

void write_inbox::settle(std::shared_ptr<write_group> group, bool durable) {
  group->durable = durable;
  caf::actor_addr wake;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (settled_.empty())
      wake = shard_;  // otherwise a wake-up is already on its way
    settled_.push_back(std::move(group));
  }
  if (auto shard = caf::actor_cast<caf::actor>(wake))
    caf::anon_send(shard, apply_atom_v);
}

std::vector<std::shared_ptr<write_group>> write_inbox::take() {
  std::lock_guard<std::mutex> guard(mutex_);
  return std::exchange(settled_, {});
}

}  // namespace castellan::actors
