// Rendering for scrapes. The metric families themselves are declared beside
// the component that updates them (Envoy's ALL_*_STATS habit), e.g.
// actors/audit/audit_metrics.hpp; docs/metrics.md lists them all.
#pragma once

#include <string>
#include <vector>

#include "net/prometheus_fwd.hpp"

namespace castellan::monitor {

// Renders every collectable in the Prometheus text exposition format.
std::string render_text(const std::vector<const prometheus::Collectable*>& sources);

}  // namespace castellan::monitor
