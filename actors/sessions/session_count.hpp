// castellan_sessions_active: the shards' tables summed when read. A gauge
// adjusted by hand on every path that adds or ends a session drifted (a
// path forgot it); a sum of what the tables hold cannot.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace castellan::actors {

class session_table;

class session_count final : public prometheus::Collectable {
 public:
  // The node's tables, once they exist (any thread; before: 0 sessions).
  void track(std::vector<std::shared_ptr<const session_table>> tables);
  uint64_t held() const;
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const session_table>> tables_;
};

}  // namespace castellan::actors
