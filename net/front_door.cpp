// The listener and its I/O threads. Each I/O thread runs its own io_context
// and owns the connections accepted onto it, so a connection's state needs no
// lock. io_threads is configurable because on a 2-vCPU machine every extra
// busy thread raises p99 (see docs/architecture.md for the measured default).
#include "net/front_door.hpp"

#include <atomic>
#include <deque>
#include <future>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <prometheus/counter.h>

#include "config/logging.hpp"
#include "net/front_door_metrics.hpp"
#include "net/connection.hpp"
#include "net/tls_server.hpp"

namespace castellan::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct front_door::impl {
  connection_context ctx;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<turn_batch>> turns;  // one per context
  std::vector<std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>>> guards;
  std::vector<std::thread> threads;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_backoff;
  std::unique_ptr<asio::steady_timer> tls_watch;      // polls the certificate files
  std::mutex tls_mutex;                               // one reload at a time
  std::vector<config::file_stamp> tls_stamps;         // of the files in force
  size_t next_context = 0;
  std::atomic<bool> stopped{false};
  tcp::endpoint bound;                     // where the listener is (port as bound)
  front_door::supervision supervision;
  std::mutex restarts_mutex;
  std::deque<std::chrono::steady_clock::time_point> restarts;  // within supervision.period

  void open_listener(asio::io_context& io) {
    acceptor = std::make_unique<tcp::acceptor>(io);
    acceptor->open(bound.protocol());
    acceptor->set_option(tcp::acceptor::reuse_address(true));
    acceptor->bind(bound);
    acceptor->listen(asio::socket_base::max_listen_connections);
    bound = acceptor->local_endpoint();
  }

  // Runs one I/O thread; a handler that throws is a crash of that thread's
  // work, not of the process. Context 0 owns the listener: it is re-opened.
  void run_thread(size_t index) {
    auto& io = *contexts[index];
    for (;;) {
      try {
        io.run();
        return;  // stopped
      } catch (const std::exception& e) {
        if (!restart_allowed(e.what()))
          return;
        if (index == 0)
          reopen_listener();
      }
    }
  }

  bool restart_allowed(const std::string& what) {
    auto now = std::chrono::steady_clock::now();
    size_t recent;
    {
      std::lock_guard<std::mutex> guard(restarts_mutex);
      restarts.push_back(now);
      while (!restarts.empty() && now - restarts.front() > supervision.period)
        restarts.pop_front();
      recent = restarts.size();
    }
    if (recent > supervision.max_restarts) {
      spdlog::error("front door: I/O thread failed {} times within {} ms (last: {}); giving up",
                    recent, supervision.period.count(), what);
      if (supervision.on_give_up)
        supervision.on_give_up("front door listener: " + what);
      return false;
    }
    spdlog::warn("front door: I/O thread handler failed ({}); restarting the listener", what);
    if (supervision.on_restart)
      supervision.on_restart();
    return true;
  }

  // On context 0's thread: a fresh acceptor on the same address. A pending
  // accept on the old one completes with operation_aborted and is dropped.
  void reopen_listener() {
    if (stopped)
      return;
    boost::system::error_code ignored;
    acceptor->close(ignored);
    accept_backoff->cancel();
    try {
      open_listener(*contexts.front());
    } catch (const std::exception& e) {
      spdlog::error("front door: cannot re-open the listener on {}: {}", bound.port(), e.what());
      throw;  // counted as another failure by run_thread
    }
    accept_next();
  }

  void accept_next() {
    size_t index = next_context;
    next_context = (next_context + 1) % contexts.size();
    auto* listening = acceptor.get();
    acceptor->async_accept(*contexts[index], [this, index, listening](
                                                 const boost::system::error_code& ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || listening != acceptor.get() || !acceptor->is_open())
        return;
      if (ec) {
        // Out of file descriptors (or similar): retrying at once would spin a
        // core; wait for connections to close.
        accept_backoff->expires_after(std::chrono::milliseconds(50));
        accept_backoff->async_wait([this](const boost::system::error_code& e) {
          if (!e)
            accept_next();
        });
        return;
      }
      admit(std::move(s), index);
      accept_next();
    });
  }

  void admit(tcp::socket s, size_t index) {
    if (ctx.open_connections.load(std::memory_order_relaxed) >= ctx.cfg.max_connections) {
      refuse(std::move(s));
      return;
    }
    if (ctx.metrics)
      ctx.metrics->connections_accepted->Increment();
    // The socket belongs to the chosen io_context; start it on that thread.
    auto executor = s.get_executor();
    auto conn = std::make_shared<connection>(std::move(s), ctx, *turns[index], ctx.tls.load());
    asio::post(executor, [conn] { conn->start(); });
  }

  // On the listener's own thread (Asio objects are not thread-safe), waited
  // for: no connection is accepted from now on.
  void close_listener() {
    std::promise<void> closed;
    asio::post(contexts.front()->get_executor(), [this, &closed] {
      boost::system::error_code ignored;
      acceptor->close(ignored);
      accept_backoff->cancel();
      closed.set_value();
    });
    closed.get_future().wait_for(std::chrono::seconds(2));
  }

  // Tells every connection (and any that starts from now on) to drain, then
  // waits until they are all closed: every request they read answered, or
  // drain_timeout_ms plus linger_bound passed. Runs on the stopping thread,
  // never on an I/O thread or an actor's.
  void drain() {
    using namespace std::chrono;
    auto deadline = steady_clock::now() + milliseconds(ctx.cfg.drain_timeout_ms);
    std::vector<std::shared_ptr<connection>> live;
    {
      std::lock_guard<std::mutex> guard(ctx.registry_mutex);
      ctx.stopping = true;
      ctx.drain_deadline = deadline;
      for (auto& w : ctx.registry)
        if (auto c = w.lock())
          live.push_back(std::move(c));
      ctx.draining.fetch_add(static_cast<uint32_t>(live.size()));
    }
    for (auto& c : live)
      asio::post(c->executor(), [c, deadline] { c->shut_down(deadline); });
    live.clear();
    auto last = deadline + linger_bound + milliseconds(100);  // the connections' own timers first
    while (ctx.draining.load() > 0 && steady_clock::now() < last)
      std::this_thread::sleep_for(milliseconds(2));
    if (ctx.cut_off.load() > 0 || ctx.draining.load() > 0)
      spdlog::warn("front door: drain_timeout_ms ({}) passed: {} connections closed with replies "
                   "unwritten or {} requests unanswered; {} not closed in time",
                   ctx.cfg.drain_timeout_ms, ctx.cut_off.load(), ctx.cut_off_owed.load(),
                   ctx.draining.load());
  }

  // Loads the files; the caller says what to do when they do not load.
  void load_tls() {
    auto stamps = tls_file_stamps(ctx.cfg.tls);
    auto fresh = make_server_tls(ctx.cfg.tls);
    ctx.tls.store(std::move(fresh.context));
    tls_stamps = std::move(stamps);
    if (ctx.metrics)
      ctx.metrics->tls_certificate_expiry->Set(static_cast<double>(fresh.not_after_s));
  }

  bool reload_tls() {
    std::lock_guard<std::mutex> guard(tls_mutex);
    try {
      load_tls();
    } catch (const std::exception& e) {
      // Stamps stay as they were, so a file still being written is tried again.
      spdlog::error("TLS: certificate not reloaded, keeping the one in force: {}", e.what());
      if (ctx.metrics)
        ctx.metrics->tls_reloads_failed->Increment();
      return false;
    }
    spdlog::info("TLS: certificate, key and client CAs reloaded; new connections use them");
    if (ctx.metrics)
      ctx.metrics->tls_reloads_ok->Increment();
    return true;
  }

  // stat() of three files on the listener's thread every reload interval.
  void watch_tls_files() {
    tls_watch->expires_after(std::chrono::milliseconds(ctx.cfg.tls.reload_interval_ms));
    tls_watch->async_wait([this](const boost::system::error_code& ec) {
      if (ec)
        return;
      bool changed;
      {
        std::lock_guard<std::mutex> guard(tls_mutex);
        changed = tls_file_stamps(ctx.cfg.tls) != tls_stamps;
      }
      if (changed)
        reload_tls();
      watch_tls_files();
    });
  }

  // Over the cap: tell the client why, then close (never a silent close).
  // Over max_connections: the client is told why, then the node reads and
  // drops what it sent until it closes (at most linger_bound), so the close
  // is a FIN after the answer, not a reset that could destroy it. On a TLS
  // port the answer is a fatal TLS alert, internal_error, in place of the
  // handshake: a client's TLS library reports it, where a plaintext frame
  // would read as a broken record, and the node spends no handshake on a
  // connection it will not serve.
  void refuse(tcp::socket s) {
    if (ctx.metrics)
      ctx.metrics->connections_rejected->Increment();
    std::string answer;
    if (ctx.tls.load()) {
      answer = std::string("\x15\x03\x03\x00\x02\x02\x50", 7);  // alert, TLS 1.2 record, fatal, 80
    } else {
      reply_buffer out;
      out.add_error(connection_level_id, error_code::unavailable, "connection limit reached");
      answer = out.take();
    }
    // Lingering is bounded: past max_lingering_refusals at once (a flood) a
    // refusal closes right after its answer, so refusals cannot hold more
    // descriptors than that beyond max_connections.
    bool linger = lingering_refusals->fetch_add(1) < max_lingering_refusals;
    auto refused = std::make_shared<refused_connection>(std::move(s), std::move(answer), lingering_refusals);
    asio::async_write(refused->socket, asio::buffer(refused->answer),
                      [refused, linger](const boost::system::error_code& ec, size_t) {
                        if (ec || !linger)
                          return refused->close();
                        boost::system::error_code ignored;
                        refused->socket.shutdown(tcp::socket::shutdown_send, ignored);
                        refused->deadline.expires_after(linger_bound);
                        refused->deadline.async_wait([refused](const boost::system::error_code& e) {
                          if (!e)
                            refused->close();
                        });
                        refused->drop_input();
                      });
  }

  static constexpr uint32_t max_lingering_refusals = 64;
  // Refused sockets not yet closed; shared, as they may outlive this object
  // inside an io_context being torn down.
  std::shared_ptr<std::atomic<uint32_t>> lingering_refusals = std::make_shared<std::atomic<uint32_t>>(0);

  struct refused_connection : std::enable_shared_from_this<refused_connection> {
    tcp::socket socket;
    std::string answer;
    asio::steady_timer deadline;
    std::shared_ptr<std::atomic<uint32_t>> open;
    char sink[512];
    refused_connection(tcp::socket s, std::string a, std::shared_ptr<std::atomic<uint32_t>> counted)
        : socket(std::move(s)), answer(std::move(a)), deadline(socket.get_executor()),
          open(std::move(counted)) {}
    ~refused_connection() { open->fetch_sub(1); }
    void drop_input() {
      socket.async_read_some(asio::buffer(sink), [self = shared_from_this()](
                                                     const boost::system::error_code& ec, size_t) {
        if (ec)
          return self->close();  // the client closed (or the linger did)
        self->drop_input();
      });
    }
    void close() {
      boost::system::error_code ignored;
      deadline.cancel();
      socket.close(ignored);
    }
  };
};

front_door::front_door(const config::server_config& cfg, std::string node_name,
                       std::shared_ptr<const keyring> keys, request_backend& backend,
                       net::front_door_metrics* metrics, request_stats* stats)
    : impl_(std::make_unique<impl>()) {
  impl_->ctx.stats = stats;
  impl_->ctx.cfg = cfg;
  impl_->ctx.node_name = std::move(node_name);
  impl_->ctx.keys = std::move(keys);
  impl_->ctx.backend = &backend;
  impl_->ctx.metrics = metrics;
  impl_->ctx.budget = std::make_unique<read_budget>(cfg.read_buffer_budget_bytes,
                                                    metrics ? metrics->read_buffer_bytes : nullptr);
  for (uint32_t i = 0; i < std::max(1u, cfg.io_threads); ++i) {
    impl_->contexts.push_back(std::make_unique<asio::io_context>(1));
    impl_->turns.push_back(std::make_unique<turn_batch>());
    impl_->guards.push_back(std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
        impl_->contexts.back()->get_executor()));
  }
}

front_door::~front_door() {
  stop();
}

uint16_t front_door::start() {
  auto& first = *impl_->contexts.front();
  if (impl_->ctx.cfg.tls.enabled()) {
    impl_->load_tls();  // throws: a node that was told to speak TLS does not start without it
    impl_->tls_watch = std::make_unique<asio::steady_timer>(first);
    impl_->watch_tls_files();
  }
  impl_->bound = tcp::endpoint(asio::ip::make_address(impl_->ctx.cfg.host), impl_->ctx.cfg.port);
  impl_->open_listener(first);
  impl_->accept_backoff = std::make_unique<asio::steady_timer>(first);
  impl_->accept_next();
  for (size_t i = 0; i < impl_->contexts.size(); ++i)
    impl_->threads.emplace_back([this, i] { impl_->run_thread(i); });
  return impl_->bound.port();
}

bool front_door::reload_tls() {
  return impl_->ctx.cfg.tls.enabled() && impl_->reload_tls();
}

void front_door::set_keys(std::shared_ptr<const keyring> keys) {
  impl_->ctx.keys.store(std::move(keys), std::memory_order_release);
}

void front_door::supervise(supervision s) { impl_->supervision = std::move(s); }

void front_door::crash_listener() {
  asio::post(impl_->contexts.front()->get_executor(), [] {
    throw std::runtime_error("front door listener crash (fault injection)");
  });
}

void front_door::stop() {
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  if (impl_->acceptor && !impl_->threads.empty()) {
    impl_->close_listener();
    impl_->drain();
  }
  for (auto& c : impl_->contexts)
    c->stop();
  for (auto& t : impl_->threads)
    t.join();
  impl_->threads.clear();
}

}  // namespace castellan::net
