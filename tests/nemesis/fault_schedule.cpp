// The seeded fault schedule; see fault_schedule.hpp. Holds straddle the
// detection bounds of docs/cluster.md (suspect after 1 s, down after 2 s), so
// some faults are ridden out as `suspect` and others make members `down`.
#include "tests/nemesis/fault_schedule.hpp"

namespace castellan::nemesis {

fault_step fault_schedule::next() {
  fault_step s;
  s.kind = fault_kind(rng_() % 6);
  switch (s.kind) {
    case fault_kind::kill9:
      s.victims = 1u << member();
      s.hold = between(300, 4000);
      break;
    case fault_kind::sigterm:
      s.victims = 1u << member();
      s.hold = between(300, 3000);
      break;
    case fault_kind::sigstop:
      s.victims = 1u << member();
      s.hold = between(800, 6000);
      break;
    case fault_kind::kill_r: {  // R = 2 members at once
      int a = member();
      int b = (a + 1 + int(rng_() % uint64_t(members_ - 1))) % members_;
      s.victims = (1u << a) | (1u << b);
      s.hold = between(1000, 4000);
      break;
    }
    case fault_kind::partition_symmetric:
    case fault_kind::partition_one_way:
      s.from = member();
      s.to = (s.from + 1 + int(rng_() % uint64_t(members_ - 1))) % members_;
      s.victims = (1u << s.from) | (1u << s.to);
      s.hold = between(1000, 6000);
      break;
  }
  s.pause = between(500, 2500);
  return s;
}

std::string fault_step::describe() const {
  fault f;
  f.kind = kind;
  f.members = victims;
  f.from = from;
  f.to = to;
  std::string d = name_of(kind);
  if (!f.stops_processes()) {
    d += " " + std::string(1, char('a' + from)) + (kind == fault_kind::partition_symmetric ? "<->" : "->") +
         std::string(1, char('a' + to));
  } else {
    d += " ";
    for (int i = 0; i < 32; ++i)
      if (f.victim(i))
        d += char('a' + i);
  }
  return d + " for " + std::to_string(hold.count()) + " ms, then " + std::to_string(pause.count()) + " ms quiet";
}

}  // namespace castellan::nemesis
