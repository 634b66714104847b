// authbench's load engine. Closed loop: every connection always has exactly P
// requests in flight and only a reply triggers the next send, so the offered
// load adapts to the server. Each thread owns its connections and multiplexes
// them with one level-triggered epoll; replies read in one readiness event are
// answered with one flush. Latency goes into per-thread histograms, merged last.
#include "load.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "net/client.hpp"
#include "net/messages.hpp"

namespace castellan::bench {
namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// -- histogram bucket math ----------------------------------------------------

// Values below 2^8 get one bucket each; from there on every power of two is
// cut into 128 equal buckets, so a bucket is never wider than 1/128 of its values.
constexpr unsigned sub_bucket_bits = 8;
constexpr uint64_t sub_bucket_count = uint64_t{1} << sub_bucket_bits;
constexpr uint64_t half_sub_bucket_count = sub_bucket_count / 2;

constexpr size_t bucket_index(uint64_t ns) {
  if (ns < sub_bucket_count)
    return static_cast<size_t>(ns);
  // shift keeps the 8 most significant bits, the first of which is always 1.
  auto shift = static_cast<unsigned>(std::bit_width(ns)) - sub_bucket_bits;
  return static_cast<size_t>(sub_bucket_count + (shift - 1) * half_sub_bucket_count +
                             ((ns >> shift) - half_sub_bucket_count));
}

constexpr uint64_t bucket_upper_bound(size_t index) {
  if (index < sub_bucket_count)
    return index;
  uint64_t shift = (index - sub_bucket_count) / half_sub_bucket_count + 1;
  uint64_t top_bits = (index - sub_bucket_count) % half_sub_bucket_count + half_sub_bucket_count;
  return ((top_bits + 1) << shift) - 1;
}

static_assert(bucket_index(latency_histogram::max_trackable_ns) + 1 ==
              latency_histogram::bucket_count);
static_assert(bucket_index(bucket_upper_bound(2000)) == 2000);
static_assert(bucket_index(bucket_upper_bound(2000) + 1) == 2001);

// -- requests ---------------------------------------------------------------

enum class request_kind { ping, login, validate, refresh };

// The op of a connection's n-th request. mixed cycles through 20 slots so the
// 90/5/5 split holds exactly on every connection, with no random generator.
request_kind kind_for(op_mode mode, uint64_t n) {
  switch (mode) {
    case op_mode::ping: return request_kind::ping;
    case op_mode::login: return request_kind::login;
    case op_mode::validate: return request_kind::validate;
    case op_mode::refresh: return request_kind::refresh;
    case op_mode::mixed: {
      auto slot = n % 20;
      if (slot < 18)
        return request_kind::validate;
      return slot == 18 ? request_kind::refresh : request_kind::login;
    }
  }
  return request_kind::ping;
}

struct pending_request {
  clock::time_point sent;  // open loop: when it was scheduled to be sent
  bool measured = false;   // count mode: sent after warmup, against the quota;
                           // open loop: scheduled within the window
};

struct connection {
  size_t number = 0;  // 1-based, for messages
  net::client client;
  std::string token;  // from the setup login; empty for ping and login
  uint64_t issued = 0;
  std::unordered_map<uint64_t, pending_request> pending;  // by request id
  bool unflushed = false;  // open loop: requests queued since the last flush
};

// -- the run shared by all threads ---------------------------------------------

struct run_plan {
  const load_options* options = nullptr;
  bool by_count = false;
  clock::time_point warm_end;
  clock::time_point deadline;  // duration mode only
  // Open loop: each thread's schedule starts at `start`, one request every
  // `interval`; replies are awaited until `deadline + client_deadline`.
  bool open_loop = false;
  clock::time_point start;
  clock::duration interval{};
  clock::duration client_deadline{};
};

struct shared_state {
  std::atomic<int64_t> unclaimed{0};  // count mode: measured requests nobody has sent yet
  std::atomic<bool> abort{false};     // a thread failed: everyone stops
  std::atomic<uint32_t> logins{0};    // logins sent, for each its own end-user address
};

// The end-user address a measured login names: a new one for each login
// (10.0.0.0/8, wrapping), so that no two logins in flight are the identical
// attempt that shares one password check (docs/protocol.md, `login`) and each
// costs its argon2 check, as logins of many end users through one gateway do.
std::string end_user_address(uint32_t n) {
  return "10." + std::to_string((n >> 16) & 255) + "." + std::to_string((n >> 8) & 255) + "." +
         std::to_string(n & 255);
}

struct thread_result {
  uint64_t requests = 0;
  uint64_t offered = 0, good = 0, late = 0, unanswered = 0;  // open loop
  std::map<std::string, uint64_t> errors;
  latency_histogram latency;
  latency_histogram latency_ok;
  latency_histogram latency_error;
  clock::time_point last_recorded{};
  std::string failure;  // empty unless the thread failed
};

// A server that stops answering would otherwise hang a count-mode run forever.
constexpr auto stall_limit = 30s;
// Longest epoll wait: bounds how late a thread notices abort or a stall.
constexpr int max_wait_ms = 100;
// Read/refill rounds per connection per event before serving the others.
constexpr int max_rounds_per_event = 4;

std::string endpoint(const load_options& o) { return o.host + ":" + std::to_string(o.port); }

class epoll_fd {
 public:
  epoll_fd() : fd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (fd_ < 0)
      throw load_failure(std::string("epoll_create1: ") + std::strerror(errno));
  }
  ~epoll_fd() { ::close(fd_); }
  epoll_fd(const epoll_fd&) = delete;
  epoll_fd& operator=(const epoll_fd&) = delete;

  void watch(int fd, uint32_t key) {
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: unread replies keep reporting
    ev.data.u32 = key;
    if (::epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
      throw load_failure(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// One client thread: its connections, its epoll, its histogram.
class worker {
 public:
  worker(std::vector<connection> conns, const run_plan& plan, shared_state& shared)
      : conns_(std::move(conns)), plan_(plan), opts_(*plan.options), shared_(shared) {
    for (size_t i = 0; i < conns_.size(); ++i) {
      epoll_.watch(conns_[i].client.native_handle(), static_cast<uint32_t>(i));
      conns_[i].pending.reserve(opts_.pipeline * 2);
    }
  }

  // Never throws: a failure is kept in result() and stops the other threads.
  void run() noexcept {
    try {
      loop();
    } catch (const std::exception& e) {
      result_.failure = e.what();
      shared_.abort.store(true);
    }
  }

  thread_result& result() { return result_; }

 private:
  void loop() {
    last_progress_ = clock::now();
    for (auto& c : conns_)
      serve(c, [&] { refill(c, clock::now()); });
    std::vector<epoll_event> events(std::min<size_t>(conns_.size(), 256));
    std::vector<uint32_t> again, next_again;
    for (;;) {
      auto now = clock::now();
      if (finished(now)) {
        result_.unanswered = measured_outstanding_;
        return;
      }
      check_stall(now);
      if (plan_.open_loop)
        issue_due(now, again);
      // Nanosecond timeouts: an open-loop send woken a millisecond late would
      // count the client's own lateness as the node's latency.
      auto timeout = again.empty() ? wait_for(now) : std::chrono::nanoseconds(0);
      timespec ts{static_cast<time_t>(timeout.count() / 1'000'000'000),
                  static_cast<long>(timeout.count() % 1'000'000'000)};
      int n = ::epoll_pwait2(epoll_.get(), events.data(), static_cast<int>(events.size()), &ts,
                             nullptr);
      if (n < 0 && errno == ENOSYS) {  // a kernel before 5.11: milliseconds, rounded up
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
        n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                         static_cast<int>(ms));
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        throw load_failure(std::string("epoll_wait: ") + std::strerror(errno));
      next_again.clear();
      for (int i = 0; i < n; ++i)
        if (drain(events[i].data.u32))
          next_again.push_back(events[i].data.u32);
      // Serving one twice in a round is harmless: the second read finds nothing.
      for (auto key : again)
        if (drain(key))
          next_again.push_back(key);
      std::swap(again, next_again);
    }
  }

  // Runs f, naming the connection in any failure ("server closed the connection"
  // alone would not say which of 50).
  template <class F>
  std::invoke_result_t<F&> serve(connection& c, F&& f) {
    try {
      return f();
    } catch (const load_failure&) {
      throw;
    } catch (const std::exception& e) {
      throw load_failure("connection " + std::to_string(c.number) + " to " + endpoint(opts_) +
                         ": " + e.what());
    }
  }

  // Handles every reply the connection has, refilling after each batch. Returns
  // true if it gave up after max_rounds_per_event with maybe more to read: a
  // flush can read replies into the client's buffer, where epoll cannot see them.
  bool drain(uint32_t key) {
    auto& c = conns_[key];
    return serve(c, [&] {
      for (int round = 0; round < max_rounds_per_event; ++round) {
        replies_.clear();
        if (c.client.receive_ready(replies_) == 0) {
          if (c.client.closed())
            throw net::client_error("server closed the connection");
          return false;
        }
        auto now = clock::now();
        last_progress_ = now;
        for (auto& r : replies_)
          on_reply(c, r, now);
        refill(c, now);
      }
      return true;
    });
  }

  void on_reply(connection& c, const net::reply_view& r, clock::time_point now) {
    auto it = c.pending.find(r.id);
    if (it == c.pending.end()) {
      // Id 0 is a connection-level error (the server closes next); any other
      // unknown id would be a server bug. Count both so they are not silent.
      ++result_.errors[r.ok ? std::string("unexpected_reply") : error_name(r)];
      return;
    }
    auto request = it->second;
    c.pending.erase(it);
    --outstanding_;
    if (!should_record(request, now))
      return;
    if (plan_.open_loop) {
      --measured_outstanding_;
      if (now - request.sent > plan_.client_deadline)
        ++result_.late;
      else if (r.ok)
        ++result_.good;
    }
    ++result_.requests;
    auto took = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - request.sent).count());
    result_.latency.record(took);
    (r.ok ? result_.latency_ok : result_.latency_error).record(took);
    result_.last_recorded = now;
    if (!r.ok)
      ++result_.errors[error_name(r)];
  }

  static std::string error_name(const net::reply_view& r) {
    return r.error.empty() ? std::string("unnamed_error") : r.error;
  }

  // Duration mode measures replies arriving in the window (like wrk), so the
  // window length is exact; count mode measures exactly the N requests sent
  // after warmup, so it must wait for all of their replies.
  bool should_record(const pending_request& request, clock::time_point now) const {
    if (plan_.by_count || plan_.open_loop)
      return request.measured;
    return now >= plan_.warm_end && now < plan_.deadline;
  }

  // Open loop: sends every request whose scheduled time has come, round
  // robin over this thread's connections, one write per connection. Each
  // carries its scheduled time, so a late send counts as latency. A flush
  // that had to wait read replies into the client's buffer, where epoll
  // cannot see them: such connections are added to `again`.
  void issue_due(clock::time_point now, std::vector<uint32_t>& again) {
    if (shared_.abort.load(std::memory_order_relaxed))
      return;
    touched_.clear();
    for (;;) {
      auto at = plan_.start + plan_.interval * static_cast<int64_t>(scheduled_);
      if (at > now || at >= plan_.deadline)
        break;
      auto& c = conns_[scheduled_++ % conns_.size()];
      bool measured = at >= plan_.warm_end;
      c.pending.emplace(queue_next(c), pending_request{at, measured});
      ++outstanding_;
      if (measured) {
        ++measured_outstanding_;
        ++result_.offered;
      }
      if (!c.unflushed) {
        c.unflushed = true;
        touched_.push_back(&c);
      }
    }
    for (auto* c : touched_) {
      c->unflushed = false;
      serve(*c, [&] { c->client.flush(); });
      if (c->client.has_buffered_replies())
        again.push_back(static_cast<uint32_t>(c - conns_.data()));
    }
  }

  // Closed loop: tops the connection up to P requests in flight and sends
  // them in one write. (Open loop sends by the clock: issue_due.)
  void refill(connection& c, clock::time_point now) {
    if (plan_.open_loop)
      return;
    size_t room = opts_.pipeline - std::min<size_t>(opts_.pipeline, c.pending.size());
    bool measured = plan_.by_count && now >= plan_.warm_end;
    size_t n = allowance(now, room, measured);
    if (n == 0)
      return;
    fresh_ids_.clear();
    for (size_t i = 0; i < n; ++i)
      fresh_ids_.push_back(queue_next(c));
    // The send time is taken before the write, so a slow write counts as latency.
    auto sent = clock::now();
    for (auto id : fresh_ids_)
      c.pending.emplace(id, pending_request{sent, measured});
    outstanding_ += n;
    c.client.flush();
  }

  // How many of `wanted` requests may be sent now.
  size_t allowance(clock::time_point now, size_t wanted, bool measured) {
    if (wanted == 0 || shared_.abort.load(std::memory_order_relaxed))
      return 0;
    if (!plan_.by_count)
      return now < plan_.deadline ? wanted : 0;
    if (!measured)
      return wanted;  // warmup traffic does not use the quota
    return claim(wanted);
  }

  // Takes up to `wanted` from the shared quota. Every fetch_sub hands out a
  // disjoint slice of [0, N), so exactly N measured requests leave in total.
  size_t claim(size_t wanted) {
    if (quota_exhausted_)
      return 0;
    auto want = static_cast<int64_t>(wanted);
    int64_t before = shared_.unclaimed.fetch_sub(want, std::memory_order_relaxed);
    if (before <= want)
      quota_exhausted_ = true;
    return static_cast<size_t>(std::clamp<int64_t>(before, 0, want));
  }

  uint64_t queue_next(connection& c) {
    auto& client = c.client;
    switch (kind_for(opts_.op, c.issued++)) {
      case request_kind::ping:
        return client.queue(net::ping_request{});
      case request_kind::login:
        return client.queue(net::login_request{
            0, opts_.user, opts_.password,
            end_user_address(shared_.logins.fetch_add(1, std::memory_order_relaxed))});
      case request_kind::validate:
        return client.queue(net::validate_request{0, c.token});
      case request_kind::refresh:
        return client.queue(net::refresh_request{0, c.token});
    }
    return 0;
  }

  bool finished(clock::time_point now) const {
    if (shared_.abort.load(std::memory_order_relaxed))
      return true;
    if (plan_.open_loop)  // every scheduled request answered, or given up on
      return now >= plan_.deadline &&
             (measured_outstanding_ == 0 || now >= plan_.deadline + plan_.client_deadline);
    if (!plan_.by_count)
      return now >= plan_.deadline;
    // Every connection with room tried to claim before going idle, so an empty
    // thread means the quota is gone.
    return outstanding_ == 0;
  }

  void check_stall(clock::time_point now) const {
    if (outstanding_ > 0 && now - last_progress_ > stall_limit)
      throw load_failure("no reply from " + endpoint(opts_) + " for " +
                         std::to_string(stall_limit.count()) + " s with " +
                         std::to_string(outstanding_) + " requests outstanding");
  }

  std::chrono::nanoseconds wait_for(clock::time_point now) const {
    using std::chrono::nanoseconds;
    const nanoseconds longest = std::chrono::milliseconds(max_wait_ms);
    if (plan_.open_loop) {
      auto next = now < plan_.deadline
                      ? plan_.start + plan_.interval * static_cast<int64_t>(scheduled_)
                      : plan_.deadline + plan_.client_deadline;
      return std::clamp<nanoseconds>(next - now, nanoseconds(0), longest);
    }
    if (plan_.by_count || now >= plan_.deadline)
      return longest;
    return std::min<nanoseconds>(plan_.deadline - now, longest);
  }

  std::vector<connection> conns_;
  const run_plan& plan_;
  const load_options& opts_;
  shared_state& shared_;
  epoll_fd epoll_;
  std::vector<net::reply_view> replies_;  // scratch, reused across events
  std::vector<uint64_t> fresh_ids_;       // scratch
  size_t outstanding_ = 0;                // requests in flight on all connections
  uint64_t scheduled_ = 0;                // open loop: requests this thread has sent
  uint64_t measured_outstanding_ = 0;     // open loop: of those in the window, unanswered
  std::vector<connection*> touched_;      // open loop scratch: connections to flush
  bool quota_exhausted_ = false;
  clock::time_point last_progress_;
  thread_result result_;
};

// -- setup ---------------------------------------------------------------------

std::vector<connection> open_connections(const load_options& o) {
  std::vector<connection> conns;
  conns.reserve(o.connections);
  for (uint32_t i = 0; i < o.connections; ++i) {
    try {
      conns.push_back(connection{i + 1, net::client::connect(o.host, o.port, 5000ms, o.tls), {}, 0, {}});
    } catch (const net::client_error& e) {
      throw load_failure(std::string(e.what()) + " (connection " + std::to_string(i + 1) +
                         " of " + std::to_string(o.connections) + ")");
    }
  }
  return conns;
}

// One login; returns its token. A refusal here voids the run: benchmarking
// bad_credentials replies would measure nothing useful.
std::string setup_login(connection& c, const load_options& o) {
  auto what = "setup login as \"" + o.user + "\" on connection " + std::to_string(c.number);
  try {
    // A node shedding logins says when to retry; a client does, for a while.
    auto reply = c.client.login(o.user, o.password);
    for (int retry = 0; retry < 50 && !reply.ok && reply.error == "unavailable" &&
                        reply.retry_after_ms > 0;
         ++retry) {
      auto pause = std::min<uint64_t>(reply.retry_after_ms, 100);
      std::this_thread::sleep_for(std::chrono::milliseconds(pause));
      reply = c.client.login(o.user, o.password);
    }
    if (!reply.ok)
      throw load_failure(what + " failed: " + reply.error + " (" + reply.message + ")");
    return reply.as<net::login_reply>().token;
  } catch (const net::client_error& e) {
    throw load_failure(what + " failed: " + e.what());
  }
}

void prepare_sessions(std::vector<connection>& conns, const load_options& o) {
  switch (o.op) {
    case op_mode::validate:
    case op_mode::refresh:
    case op_mode::mixed:
      for (auto& c : conns)
        c.token = setup_login(c, o);
      return;
    case op_mode::login:
      setup_login(conns.front(), o);  // only to fail fast on wrong credentials
      return;
    case op_mode::ping:
      return;
  }
}

// Connection i goes to thread i % T, so threads differ by at most one connection.
std::vector<std::vector<connection>> deal(std::vector<connection> conns, uint32_t threads) {
  std::vector<std::vector<connection>> per_thread(threads);
  for (size_t i = 0; i < conns.size(); ++i)
    per_thread[i % threads].push_back(std::move(conns[i]));
  return per_thread;
}

double seconds(clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

// -- public -----------------------------------------------------------------------

const char* to_string(op_mode mode) {
  switch (mode) {
    case op_mode::validate: return "validate";
    case op_mode::login: return "login";
    case op_mode::refresh: return "refresh";
    case op_mode::ping: return "ping";
    case op_mode::mixed: return "mixed";
  }
  return "?";
}

std::optional<op_mode> op_mode_from_string(const std::string& text) {
  for (auto mode : {op_mode::validate, op_mode::login, op_mode::refresh, op_mode::ping,
                    op_mode::mixed})
    if (text == to_string(mode))
      return mode;
  return std::nullopt;
}

bool needs_credentials(op_mode mode) { return mode != op_mode::ping; }

void latency_histogram::record(uint64_t ns) {
  ns = std::min(ns, max_trackable_ns);
  ++counts_[bucket_index(ns)];
  ++total_;
  max_ = std::max(max_, ns);
}

void latency_histogram::merge(const latency_histogram& other) {
  for (size_t i = 0; i < bucket_count; ++i)
    counts_[i] += other.counts_[i];
  total_ += other.total_;
  max_ = std::max(max_, other.max_);
}

uint64_t latency_histogram::value_at(double percentile) const {
  if (total_ == 0)
    return 0;
  // The rank of the value, 1-based: p50 of 2 values is the first one.
  auto rank = static_cast<uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(total_)));
  rank = std::clamp<uint64_t>(rank, 1, total_);
  uint64_t seen = 0;
  for (size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank)
      return std::min(bucket_upper_bound(i), max_);  // no bucket bound above the true max
  }
  return max_;
}

load_result run_load(const load_options& options) {
  auto conns = open_connections(options);
  prepare_sessions(conns, options);

  auto threads = std::min(options.threads, options.connections);
  run_plan plan;
  plan.options = &options;
  plan.by_count = options.requests.has_value();
  auto start = clock::now();
  plan.warm_end = start + std::chrono::duration_cast<clock::duration>(
                              std::chrono::duration<double>(options.warmup_s));
  plan.deadline = plan.warm_end + std::chrono::duration_cast<clock::duration>(
                                      std::chrono::duration<double>(options.duration_s));
  if (options.rate) {
    // Each thread sends its share of the rate on its own schedule.
    plan.open_loop = true;
    plan.start = start;
    plan.interval = std::max<clock::duration>(
        clock::duration(1), std::chrono::duration_cast<clock::duration>(
                                std::chrono::duration<double>(threads / *options.rate)));
    plan.client_deadline = std::chrono::milliseconds(options.deadline_ms);
  }
  shared_state shared;
  shared.unclaimed = static_cast<int64_t>(options.requests.value_or(0));

  std::vector<std::unique_ptr<worker>> workers;
  for (auto& group : deal(std::move(conns), threads))
    workers.push_back(std::make_unique<worker>(std::move(group), plan, shared));
  {
    std::vector<std::jthread> running;
    for (auto& w : workers)
      running.emplace_back([&w] { w->run(); });
  }  // jthreads join here

  load_result result;
  result.threads = threads;
  clock::time_point last = plan.warm_end;
  for (auto& w : workers) {
    auto& r = w->result();
    if (!r.failure.empty())
      throw load_failure(r.failure);
    result.requests += r.requests;
    result.offered += r.offered;
    result.good += r.good;
    result.late += r.late;
    result.unanswered += r.unanswered;
    for (auto& [code, n] : r.errors)
      result.errors[code] += n;
    result.latency.merge(r.latency);
    result.latency_ok.merge(r.latency_ok);
    result.latency_error.merge(r.latency_error);
    last = std::max(last, r.last_recorded);
  }
  result.elapsed_s = plan.by_count ? seconds(last - plan.warm_end) : options.duration_s;
  return result;
}

}  // namespace castellan::bench
