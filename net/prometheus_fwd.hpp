// Forward declarations of the prometheus-cpp handles a component's metric
// struct holds, so that metric headers (net/front_door_metrics.hpp,
// actors/*/..._metrics.hpp) stay light. The handles are thread-safe; hot paths
// add once per batch, not once per request.
#pragma once

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
class Collectable;
template <typename T>
class Family;
}  // namespace prometheus
