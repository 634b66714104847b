// `authctl status`: the node's health and the monitor's summary (op
// `metrics_summary`) in one screen, or one JSON object with --json.
#pragma once

#include <nlohmann/json.hpp>

namespace castellan::authctl {

// Prints `summary` (a metrics_summary reply as JSON) for people.
void print_status(const nlohmann::json& summary);

}  // namespace castellan::authctl
