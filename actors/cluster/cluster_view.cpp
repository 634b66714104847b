// The view as /cluster's model; see cluster_view.hpp. The rendering is the
// monitor's (monitor/cluster_status.hpp), shared with a node alone.
#include "actors/cluster/cluster_view.hpp"

#include "actors/cluster/membership.hpp"

namespace castellan::actors {

namespace {

bool holds_at(const ring& r, const std::string& member, uint64_t h) {
  int i = r.index_of(member);
  return i >= 0 && r.holds(h, static_cast<uint32_t>(i));
}

// No holder of `h` in `intact` is a member of `now`: nobody could hand it on.
bool lost(const ring& intact, const ring& now, uint64_t h) {
  for (auto i : intact.place(h))
    if (now.index_of(intact.members()[i]) >= 0)
      return false;
  return true;
}

}  // namespace

bool copy_complete(const ring& holders, const ring* settled, const ring* intact,
                   const std::string& self, uint64_t h) {
  if (!settled || !holds_at(holders, self, h))
    return false;
  if (intact && lost(*intact, holders, h))
    return false;
  if (settled == &holders)
    return true;
  // Held under the settled ring and still: it heard every change since.
  return holds_at(*settled, self, h) && !(intact && lost(*intact, *settled, h));
}

bool cluster_view::keys_lost() const { return intact && holders && loses_keys(*intact, *holders); }

bool cluster_view::complete(uint64_t key_hash) const {
  if (!holders)
    return false;
  if (all_complete())
    return holds(key_hash);
  return copy_complete(*holders, settled.get(), intact.get(), self, key_hash);
}

monitor::cluster_status status_of(const cluster_view& view) {
  monitor::cluster_status status;
  status.node = view.self;
  status.clustered = true;
  status.epoch = view.epoch;
  status.replicas = view.owners ? view.owners->replicas() : 1;
  if (view.owners)
    status.owners = view.owners->members();
  if (view.holders)
    status.holders = view.holders->members();
  status.members = view.members;
  status.complete = view.all_complete();
  return status;
}

}  // namespace castellan::actors
