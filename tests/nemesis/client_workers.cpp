// The nemesis's client workers; see client_workers.hpp.
#include "tests/nemesis/client_workers.hpp"

#include <chrono>
#include <deque>
#include <optional>
#include <random>

#include "net/client.hpp"
#include "tests/nemesis/nemesis_cluster.hpp"

namespace castellan::nemesis {
namespace {

using namespace std::chrono;

struct answer {
  outcome result = outcome::lost;
  std::string code;
  std::optional<net::reply_view> reply;
};

// One request on `conn` (connected on demand), waiting at most `bound` in
// all. Any doubt about the connection afterwards drops it.
template <class Request>
answer exchange(std::optional<net::client>& conn, int member, Request req, micros bound) {
  auto deadline = steady_clock::now() + microseconds(bound);
  auto left = [&] { return duration_cast<milliseconds>(deadline - steady_clock::now()); };
  try {
    if (!conn)
      conn.emplace(net::client::connect(cluster_layout::address(member), cluster_layout::client_port,
                                        std::min(left(), milliseconds(1000))));
    auto id = conn->queue(std::move(req));
    conn->flush(std::max(left(), milliseconds(1)));
    for (;;) {
      auto wait = left();
      auto r = wait.count() > 0 ? conn->receive(wait) : std::nullopt;
      if (!r) {
        conn.reset();
        return {outcome::no_answer, "", std::nullopt};
      }
      if (r->id != id)
        continue;  // id 0: the member is stopping; our reply still comes (docs/protocol.md, 6)
      answer a{r->ok ? outcome::ok : outcome::failed, r->ok ? "" : r->error, std::move(*r)};
      if (conn->ending())
        conn.reset();
      return a;
    }
  } catch (const net::client_error& e) {
    conn.reset();
    return {outcome::lost, "", std::nullopt};
  }
}

struct live_session {
  std::string token;
  std::string user;
};

enum class choice { login, owner_live, local_live, owner_ended, local_ended, refresh, logout, revoke };

choice pick(std::mt19937_64& rng) {
  // Weights out of 100.
  static const std::pair<choice, int> mix[] = {
      {choice::login, 10},      {choice::owner_live, 26}, {choice::local_live, 20}, {choice::owner_ended, 10},
      {choice::local_ended, 8}, {choice::refresh, 8},     {choice::logout, 16},     {choice::revoke, 2}};
  int x = int(rng() % 100);
  for (auto& [c, w] : mix)
    if ((x -= w) < 0)
      return c;
  return choice::owner_live;
}

}  // namespace

client_workers::client_workers(recorder& rec, workload w, std::function<uint32_t(const std::string&)> holders_of)
    : rec_(rec), w_(w), holders_of_(std::move(holders_of)) {}

client_workers::~client_workers() { stop(); }

void client_workers::start() {
  for (int i = 0; i < w_.workers; ++i)
    threads_.emplace_back([this, i] { run(i); });
}

void client_workers::stop() {
  stopping_ = true;
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
  threads_.clear();
}

void client_workers::run(int worker) {
  std::mt19937_64 rng(w_.seed * 7919 + uint64_t(worker));
  std::optional<net::client> conns[cluster_layout::members];
  std::vector<live_session> live;
  std::deque<std::string> ended;  // tokens whose end was requested: reads judge rule (a)
  int home = worker < w_.workers - w_.roaming ? worker % cluster_layout::members : -1;
  auto pause = microseconds(1'000'000 / std::max(1, w_.ops_per_second));
  auto random_index = [&](size_t n) { return size_t(rng() % n); };
  auto end_token = [&](size_t i) {
    ended.push_back(live[i].token);
    if (ended.size() > 64)
      ended.pop_front();
    live.erase(live.begin() + long(i));
  };

  while (!stopping_) {
    auto started = steady_clock::now();
    int m = home >= 0 ? home : int(rng() % cluster_layout::members);
    auto c = pick(rng);
    if (live.empty() || (c == choice::login && live.size() >= 24))
      c = live.empty() ? choice::login : choice::logout;
    if ((c == choice::owner_ended || c == choice::local_ended) && ended.empty())
      c = choice::owner_live;

    if (c == choice::login) {
      auto user = user_name(worker, int(rng() % uint64_t(w_.users_per_worker)));
      auto slot = rec_.invoke(worker, m, op_type::login, user, "");
      auto a = exchange(conns[m], m, net::login_request{0, user, password_of(user), ""}, w_.reply_bound);
      if (a.result == outcome::ok) {
        auto r = a.reply->as<net::login_reply>();
        rec_.complete(slot, a.result, "", r.token, r.expires_at_ms, holders_of_(r.token));
        live.push_back({r.token, user});
      } else {
        rec_.complete(slot, a.result, a.code);
      }
    } else if (c == choice::revoke) {
      auto i = random_index(live.size());
      auto s = live[i];
      auto slot = rec_.invoke(worker, m, op_type::revoke_user, s.user, s.token);
      auto a = exchange(conns[m], m, net::revoke_user_request{0, s.token, s.user}, w_.reply_bound);
      rec_.complete(slot, a.result, a.code);
      for (size_t j = live.size(); j-- > 0;)
        if (live[j].user == s.user)
          end_token(j);
    } else if (c == choice::logout) {
      auto i = random_index(live.size());
      auto slot = rec_.invoke(worker, m, op_type::logout, live[i].user, live[i].token);
      auto a = exchange(conns[m], m, net::logout_request{0, live[i].token}, w_.reply_bound);
      rec_.complete(slot, a.result, a.code);
      end_token(i);
    } else if (c == choice::refresh) {
      auto& s = live[random_index(live.size())];
      auto slot = rec_.invoke(worker, m, op_type::refresh, s.user, s.token);
      auto a = exchange(conns[m], m, net::refresh_request{0, s.token}, w_.reply_bound);
      int64_t expires = a.result == outcome::ok ? a.reply->as<net::refresh_reply>().expires_at_ms : 0;
      rec_.complete(slot, a.result, a.code, "", expires);
    } else {
      bool local = c == choice::local_live || c == choice::local_ended;
      bool of_ended = c == choice::owner_ended || c == choice::local_ended;
      std::string token = of_ended ? ended[random_index(ended.size())] : live[random_index(live.size())].token;
      auto slot = rec_.invoke(worker, m, local ? op_type::validate_local : op_type::validate_owner, "", token);
      auto a = exchange(conns[m], m, net::validate_request{0, token, std::string(local ? "local" : "owner")},
                        w_.reply_bound);
      rec_.complete(slot, a.result, a.code);
    }
    auto spent = steady_clock::now() - started;
    if (spent < pause && !stopping_)
      std::this_thread::sleep_for(pause - spent);
  }
}

}  // namespace castellan::nemesis
