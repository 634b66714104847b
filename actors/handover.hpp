// Who sends what when the holders change (sessions and lockouts alike): for
// a key, every member that holds it under the new ring but did not under the
// old one needs a copy, and exactly one old holder sends it: the first of the
// key's old holders that is still a member (with no old ring, say after a
// restart, everyone sends; merges make duplicates harmless).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/ring.hpp"

namespace castellan::actors {

// The members `self` must send the key at `h` to (empty when it is not the
// key's sender, or nobody new holds it).
inline std::vector<std::string> handover_targets(const net::ring* before, const net::ring& after,
                                                 const std::string& self, uint64_t h) {
  std::vector<std::string> out;
  if (before && !before->empty()) {
    for (auto i : before->place(h)) {
      auto& m = before->members()[i];
      if (after.index_of(m) >= 0) {
        if (m != self)
          return out;  // another old holder sends it
        break;
      }
    }
  }
  for (auto i : after.place(h)) {
    auto& member = after.members()[i];
    if (member == self)
      continue;
    int was = before ? before->index_of(member) : -1;
    if (was >= 0 && before->holds(h, static_cast<uint32_t>(was)))
      continue;  // it held the key already and heard every change
    out.push_back(member);
  }
  return out;
}

}  // namespace castellan::actors
