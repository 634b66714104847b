// The front door's metric families render in Prometheus text format with the
// names docs/metrics.md lists.
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "monitor/metrics.hpp"

namespace castellan::monitor {
namespace {

TEST(Metrics, FrontDoorFamiliesRender) {
  prometheus::Registry registry;
  auto m = make_front_door_metrics(registry);
  m->requests[2]->Increment(3);  // validate
  m->refused_too_large->Increment();
  auto text = render_text(registry);
  EXPECT_NE(text.find("castellan_requests_total{op=\"validate\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("castellan_frames_refused_total{reason=\"too_large\"} 1"), std::string::npos);
  EXPECT_NE(text.find("# TYPE castellan_connections_open gauge"), std::string::npos);
}

}  // namespace
}  // namespace castellan::monitor
