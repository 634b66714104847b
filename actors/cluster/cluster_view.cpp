// The view as /cluster's model; see cluster_view.hpp. The rendering is the
// monitor's (monitor/cluster_status.hpp), shared with a node alone.
#include "actors/cluster/cluster_view.hpp"

namespace castellan::actors {

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
  return status;
}

}  // namespace castellan::actors
