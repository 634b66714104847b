// One nemesis run; see nemesis_run.hpp. The schedule runs on the calling
// thread, which also starts every member process: their parent-death signal
// is tied to this thread, so a crashed test leaves no member behind.
#include "tests/nemesis/nemesis_run.hpp"

#include <iostream>
#include <thread>

#include "tests/nemesis/fault_schedule.hpp"
#include "tests/nemesis/nemesis_cluster.hpp"
#include "tests/nemesis/network_namespace.hpp"

namespace castellan::nemesis {
namespace {

using namespace std::chrono;

// Sleeps until `until` (bounded by it: no wait without an end).
void sleep_until(steady_clock::time_point until) {
  while (steady_clock::now() < until)
    std::this_thread::sleep_for(std::min<steady_clock::duration>(until - steady_clock::now(), milliseconds(50)));
}

void inject(nemesis_cluster& c, network_namespace& net, const fault_step& s) {
  for (int i = 0; i < cluster_layout::members; ++i) {
    if (!((s.victims >> i) & 1u))
      continue;
    switch (s.kind) {
      case fault_kind::kill9:
      case fault_kind::kill_r: c.member(i).kill9(); break;
      case fault_kind::sigterm: c.member(i).terminate(); break;
      case fault_kind::sigstop: c.member(i).freeze(); break;
      default: break;
    }
  }
  if (s.kind == fault_kind::partition_symmetric || s.kind == fault_kind::partition_one_way)
    net.cut(s.from, s.to, s.kind == fault_kind::partition_symmetric);
}

void heal(nemesis_cluster& c, network_namespace& net, const fault_step& s) {
  if (s.kind == fault_kind::partition_symmetric || s.kind == fault_kind::partition_one_way) {
    net.heal();
    return;
  }
  for (int i = 0; i < cluster_layout::members; ++i)
    if ((s.victims >> i) & 1u) {
      if (s.kind == fault_kind::sigstop)
        c.member(i).thaw();
      else
        c.member(i).start();  // restart on the same data directory
    }
}

}  // namespace

run_outcome run_nemesis(const run_options& o) {
  std::cout << "nemesis: seed " << o.seed << " (replay: tools/nemesis.sh --seed " << o.seed << "), "
            << o.duration.count() << " s of faults" << (o.cluster_tls ? ", TLS between members" : "")
            << ", data in " << o.dir << std::endl;
  network_namespace net(cluster_layout::members);
  nemesis_cluster cluster(o.dir, o.load.workers, o.load.users_per_worker, o.cluster_tls);
  recorder rec;
  workload load = o.load;
  load.seed = o.seed;
  run_outcome out;
  {
    client_workers clients(rec, load, [&](const std::string& t) { return cluster.holders_of(t); });
    clients.start();
    sleep_until(steady_clock::now() + seconds(3));  // a quiet baseline first
    fault_schedule schedule(o.seed, cluster_layout::members);
    auto end = steady_clock::now() + o.duration;
    while (steady_clock::now() < end) {
      auto step = schedule.next();
      fault f;
      f.kind = step.kind;
      f.members = step.victims;
      f.from = step.from;
      f.to = step.to;
      f.started = rec.now();
      inject(cluster, net, step);
      sleep_until(steady_clock::now() + step.hold);
      heal(cluster, net, step);
      f.healed = rec.now();
      bool settled = cluster.wait_converged(seconds(20));
      f.settled = rec.now();
      rec.add_fault(f);
      out.schedule.push_back(f.describe() + (settled ? "" : " (did NOT settle in 20 s)"));
      std::cout << "nemesis: " << out.schedule.back() << std::endl;
      sleep_until(steady_clock::now() + step.pause);
    }
    sleep_until(steady_clock::now() + seconds(2));  // a quiet tail
    clients.stop();
  }
  out.recorded = rec.take();
  out.recorded.members = cluster_layout::members;
  out.recorded.replicas = cluster_layout::replicas;
  auto verified = cluster.stop_and_verify();
  for (int i = 0; i < int(verified.size()); ++i)
    out.audits.push_back({i, verified[size_t(i)].exit_code, verified[size_t(i)].output});
  out.verdict = check(out.recorded, out.audits, o.checks);
  return out;
}

}  // namespace castellan::nemesis
