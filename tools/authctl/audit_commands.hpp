// `authctl audit verify|tail`: reading the audit log directory directly
// (no node needed), with the same reader the node uses at start-up.
#pragma once

#include <string>

namespace castellan::authctl {

struct audit_filter {
  std::string user;     // only this user's events
  std::string kind;     // only this event kind
  size_t last = 0;      // only the last N matching (0: all)
  bool follow = false;  // keep printing new records
};

// Exit 0 when every segment verifies; 1 naming the first bad record; 4 if unreadable.
int audit_verify(const std::string& dir, bool json);

// Prints matching records oldest first; with follow, polls for new ones
// (until interrupted).
int audit_tail(const std::string& dir, const audit_filter& filter, bool json);

}  // namespace castellan::authctl
