// Micro-benchmarks of what one validate costs inside a node, piece by piece:
// parsing the frame, verifying the token MAC, the shard's lookup and the
// reply encoding. authbench measures the whole path over TCP; these say
// where the time goes. Run: build/release/tests/hot_path_bench
#include <benchmark/benchmark.h>

#include "actors/limiter/limiter_table.hpp"
#include "actors/sessions/session_table.hpp"
#include "net/frame_codec.hpp"
#include "net/messages.hpp"
#include "net/token.hpp"

namespace castellan {
namespace {

net::keyring test_keyring() {
  net::token_key k;
  k.id = 1;
  k.secret.fill(42);
  return net::keyring({k}, 1);
}

std::string validate_body(const std::string& token) {
  std::stringstream s;
  msgpack::pack(s, net::validate_request{7, token});
  return s.str();
}

void BM_ParseValidateRequest(benchmark::State& state) {
  auto ring = test_keyring();
  auto body = validate_body(ring.mint(net::random_session_id()).token);
  msgpack::zone zone;
  for (auto _ : state) {
    auto r = net::parse_request(body, zone);
    benchmark::DoNotOptimize(r.request.token.data());
    zone.clear();
  }
}
BENCHMARK(BM_ParseValidateRequest);

void BM_VerifyToken(benchmark::State& state) {
  auto ring = test_keyring();
  auto token = ring.mint(net::random_session_id()).token;
  for (auto _ : state)
    benchmark::DoNotOptimize(ring.verify(token));
}
BENCHMARK(BM_VerifyToken);

void BM_EncodeValidateReply(benchmark::State& state) {
  net::reply_buffer out;
  std::vector<std::string> roles{"trader", "desk-7"};
  for (auto _ : state) {
    out.add(net::validate_reply{7, true, "alice", roles, 1795384137227});
    if (out.count() == 1024)
      out.take();
  }
}
BENCHMARK(BM_EncodeValidateReply);

// A shard's lookup in a table of `range(0)` sessions: cache misses dominate.
void BM_SessionLookup(benchmark::State& state) {
  auto users = std::make_shared<config::users_table>();
  users->by_name["alice"] = {"alice", "$argon2id$x", {"trader"}, true, {}};
  users->by_name["alice"].id = 1;  // as the node numbers every snapshot (user_numbers)
  actors::user_ref alice(users, users->find("alice"));
  actors::session_table table(config::sessions_config{});
  std::vector<net::session_id> sids(static_cast<size_t>(state.range(0)));
  for (auto& sid : sids) {
    sid = net::random_session_id();
    table.restore(sid, alice, 0, table.new_expiry(0));
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table.validate(sids[i], 1).found);
    i = (i + 7919) % sids.size();
  }
}
BENCHMARK(BM_SessionLookup)->Arg(1000)->Arg(1000000);

// The limiter's check for one login: three keys (user, ip, user_ip) in a
// table of `range(0)` remembered keys.
void BM_LimiterCheckThreeKeys(benchmark::State& state) {
  actors::rate_policies ps{actors::rate_policy{1e9, 1000000000, 0, 1000, 1000},
                           actors::rate_policy{1e9, 1000000000, 0, 1000, 1000},
                           actors::rate_policy{1e9, 1000000000, 0, 1000, 1000}};
  actors::limiter_table table(ps, 2000000);
  std::vector<actors::lockout_change> changes;
  auto n = static_cast<size_t>(state.range(0));
  std::vector<std::vector<actors::limit_key>> logins(n);
  for (size_t i = 0; i < n; ++i) {
    auto user = "user" + std::to_string(i), ip = "10.0." + std::to_string(i % 250) + "." + std::to_string(i % 199);
    logins[i] = {{actors::key_kind::user, user}, {actors::key_kind::ip, ip},
                 {actors::key_kind::user_ip, user + "|" + ip}};
    for (auto& k : logins[i])
      table.check(k, 0, changes);
  }
  size_t i = 0;
  int64_t now = 1;
  std::vector<actors::decision> out;
  for (auto _ : state) {
    table.check(logins[i], now, changes, out);  // as a shard checks one login's keys
    benchmark::DoNotOptimize(out.front().allowed);
    i = (i + 7919) % n;
    ++now;
  }
}
BENCHMARK(BM_LimiterCheckThreeKeys)->Arg(1000)->Arg(300000);

}  // namespace
}  // namespace castellan

BENCHMARK_MAIN();
