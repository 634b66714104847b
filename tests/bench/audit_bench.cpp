// Durable audit records per second on this disk.
//   BM_CommitGroup/N: the storage engine alone, N records per fdatasync
//     (N = 1 is "fdatasync per record"; larger N is what group commit buys).
//   BM_WriterClosedLoop/C: the real audit writer actor with C clients, each
//     waiting for its record to be durable before sending the next (like
//     redis-benchmark -c C against appendfsync always); reports records/s and
//     the commit latency p50/p99 seen by clients.
// Run: build/release/tests/audit_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>
#include <caf/typed_actor.hpp>

#include "actors/storage/audit_log.hpp"
#include "actors/audit/audit_writer.hpp"
#include "net/events.hpp"
#include "net/messages.hpp"

namespace castellan {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

fs::path bench_dir(const std::string& name) {
  // On the build tree's disk (not tmpfs), so fdatasync means what it does in production.
  auto dir = fs::current_path() / ("audit-bench-" + name);
  fs::remove_all(dir);
  return dir;
}

std::string typical_record() {
  auto e = net::make_event(net::event_kind::login_ok, "node1");
  e.user = "trader-0042";
  e.ip = "10.20.30.40";
  e.session = std::string(32, 'a');
  e.until_ms = e.time_ms + 1800000;
  msgpack::sbuffer b;
  msgpack::pack(b, e);
  return {b.data(), b.size()};
}

void BM_CommitGroup(benchmark::State& state) {
  auto dir = bench_dir("group");
  actors::audit_recovery r;
  auto log = actors::audit_log::open({dir.string(), 256 << 20, 0, 0, true, nullptr}, r);
  auto body = typical_record();
  auto group = state.range(0);
  for (auto _ : state) {
    for (int64_t i = 0; i < group; ++i)
      log->append(body.data(), body.size());
    log->commit();
  }
  state.SetItemsProcessed(state.iterations() * group);
  fs::remove_all(dir);
}
BENCHMARK(BM_CommitGroup)->Arg(1)->Arg(16)->Arg(128)->Arg(1024)->UseRealTime();

// A client of the closed loop: on each durable ack it records the latency
// and sends its next record (from the writer's thread, which is allowed:
// sending never blocks).
struct loop_client : net::reply_sink {
  actors::audit_writer writer;
  net::auth_event event;
  clock_type::time_point sent;
  std::vector<double>* latencies_us = nullptr;
  std::mutex* mutex = nullptr;
  std::atomic<int64_t>* remaining = nullptr;
  std::shared_ptr<loop_client> self;

  void send_next() {
    sent = clock_type::now();
    auto owed = std::make_shared<net::owed_replies>(self, std::vector<net::owed_request>{{1}});
    net::reply_buffer reply;
    reply.add(net::logout_reply{1, true});
    caf::anon_send(writer, actors::audit_append{{event}, owed, std::move(reply), {1}, nullptr, nullptr});
  }
  void deliver(std::string&&, size_t) override {
    auto us = std::chrono::duration<double, std::micro>(clock_type::now() - sent).count();
    {
      std::lock_guard<std::mutex> guard(*mutex);
      latencies_us->push_back(us);
    }
    if (remaining->fetch_sub(1) > 0)
      send_next();
    else
      self.reset();  // this client is done
  }
};

void BM_WriterClosedLoop(benchmark::State& state) {
  auto dir = bench_dir("writer");
  caf::actor_system_config cfg;
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  actors::audit_recovery r;
  std::shared_ptr<actors::audit_log> log =
      actors::audit_log::open({dir.string(), 256 << 20, 0, 0, true, nullptr}, r);
  auto health = std::make_shared<actors::audit_health>();
  auto writer = actors::spawn_audit_writer(sys, log, health, true);
  auto event = net::make_event(net::event_kind::login_ok, "node1");
  event.user = "trader-0042";
  event.session = std::string(32, 'a');
  std::vector<double> latencies;
  std::mutex mutex;
  int64_t total = 0;
  for (auto _ : state) {
    std::atomic<int64_t> remaining{20000};
    latencies.clear();
    latencies.reserve(30000);
    auto start = clock_type::now();
    std::vector<std::shared_ptr<loop_client>> clients;
    for (int64_t i = 0; i < state.range(0); ++i) {
      auto c = std::make_shared<loop_client>();
      c->writer = writer;
      c->event = event;
      c->latencies_us = &latencies;
      c->mutex = &mutex;
      c->remaining = &remaining;
      c->self = c;
      clients.push_back(c);
    }
    for (auto& c : clients)
      c->send_next();
    clients.clear();
    for (;;) {
      {
        std::lock_guard<std::mutex> guard(mutex);
        if (latencies.size() >= static_cast<size_t>(20000 + state.range(0)))
          break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    state.SetIterationTime(std::chrono::duration<double>(clock_type::now() - start).count());
    total += static_cast<int64_t>(latencies.size());
  }
  std::sort(latencies.begin(), latencies.end());
  state.SetItemsProcessed(total);
  state.counters["p50_us"] = latencies[latencies.size() / 2];
  state.counters["p99_us"] = latencies[latencies.size() * 99 / 100];
  state.counters["commits"] = static_cast<double>(health->commits.load());
  caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
  fs::remove_all(dir);
}
BENCHMARK(BM_WriterClosedLoop)->Arg(1)->Arg(50)->Arg(200)->UseManualTime()->Iterations(3);

}  // namespace
}  // namespace castellan

BENCHMARK_MAIN();
