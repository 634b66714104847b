// Text rendering for scrapes; see metrics.hpp.
#include "monitor/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace castellan::monitor {

std::string render_text(const std::vector<const prometheus::Collectable*>& sources) {
  std::vector<prometheus::MetricFamily> families;
  for (auto* s : sources) {
    auto more = s->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  prometheus::TextSerializer serializer;
  return serializer.Serialize(families);
}

}  // namespace castellan::monitor
