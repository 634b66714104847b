// The front door's metric families render in Prometheus text format with the
// names docs/metrics.md lists.
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "monitor/metrics.hpp"
#include "net/front_door_metrics.hpp"
#include "net/request_metrics.hpp"

namespace castellan::monitor {
namespace {

TEST(Metrics, FrontDoorAndRequestFamiliesRender) {
  prometheus::Registry registry;
  auto m = net::make_front_door_metrics(registry);
  m->refused_too_large->Increment();
  net::request_stats stats;
  net::request_tally tally;
  tally.add(net::op_kind::validate, net::result_ok, 3);
  tally.add(net::op_kind::validate, net::result_of(net::error_code::expired));
  stats.record(tally, 40'000);  // 40 µs
  net::request_collector requests(stats);
  auto text = render_text({&registry, &requests});
  EXPECT_NE(text.find("castellan_requests_total{op=\"validate\",result=\"ok\"} 3"),
            std::string::npos) << text;
  EXPECT_NE(text.find("castellan_requests_total{op=\"validate\",result=\"expired\"} 1"),
            std::string::npos) << text;
  EXPECT_NE(text.find("castellan_request_duration_seconds_bucket{op=\"validate\",le=\"5e-05\"} 4"),
            std::string::npos) << text;
  EXPECT_NE(text.find("castellan_request_duration_seconds_bucket{op=\"validate\",le=\"2.5e-05\"} 0"),
            std::string::npos) << text;
  EXPECT_NE(text.find("castellan_request_duration_seconds_count{op=\"validate\"} 4"),
            std::string::npos) << text;
  EXPECT_NE(text.find("castellan_frames_refused_total{reason=\"too_large\"} 1"), std::string::npos);
  EXPECT_NE(text.find("# TYPE castellan_connections_open gauge"), std::string::npos);
}

}  // namespace
}  // namespace castellan::monitor
