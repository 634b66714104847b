// The wall clock in Unix milliseconds: the unit of every expiry, event time
// and key retirement on the wire and on disk. One definition for all.
#pragma once

#include <chrono>
#include <cstdint>

namespace castellan::net {

inline int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace castellan::net
