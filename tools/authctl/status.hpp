// `authctl status` and `authctl cluster status`: the node's health and the
// monitor's summary (op `metrics_summary`), and every cluster member as the
// node sees it (op `cluster_status`), for people, or JSON with --json.
#pragma once

#include <nlohmann/json.hpp>

namespace castellan::authctl {

// Prints `summary` (a metrics_summary reply as JSON) for people.
void print_status(const nlohmann::json& summary);

// Prints a cluster_status reply (as JSON): one line per member with its
// state, when it was last heard from, load and restarts.
void print_cluster_status(const nlohmann::json& status);

}  // namespace castellan::authctl
