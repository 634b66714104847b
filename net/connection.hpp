// One client connection of the front door. Reading and parsing happen only
// on the connection's own io_context thread. Replies may come from any
// thread: deliver() writes them straight to the socket with a non-blocking
// send when nothing else is being written, so a validate costs one thread
// hand-off (I/O thread -> shard) instead of two; only a partial write is
// handed back to the I/O thread. The output state is therefore guarded by
// out_mutex_ (never held across a blocking call). Internal to net/.
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <chrono>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/config.hpp"
#include "net/backend.hpp"
#include "net/owed_replies.hpp"
#include "net/read_buffer.hpp"
#include "net/request_stats.hpp"
#include "net/front_door_metrics.hpp"
#include "net/tls_channel.hpp"

namespace castellan::net {

class connection;

// How long a closing connection waits for the client's EOF after its own;
// also how long a stopping node's connections may take, after the drain
// deadline, to write what they owe.
inline constexpr std::chrono::milliseconds linger_bound{500};

// The session ops one I/O thread collects during a turn of its event loop.
// Touched only by that thread; flushed by a handler posted behind the turn's
// completions, so every connection read in the same turn shares one batch.
struct turn_batch {
  op_batch pending;
  // Busy connections (server.light_inflight) waiting for their next read:
  // armed a few per pass (read_pump), so the I/O thread's queue stays short
  // and a light connection's request is read at the next reactor run, not
  // after a round over every flooding connection.
  std::deque<std::shared_ptr<connection>> busy_readers;
  bool pump_posted = false;
  bool flush_posted = false;
  // Scratch for parsing one read's frames, cleared after each read. Shared by
  // the thread's connections (one parses a whole read before another runs):
  // one per connection was 8 KiB each, idle or not.
  msgpack::zone zone;
};

// What every connection of one front door shares (read-only, or atomic).
struct connection_context {
  config::server_config cfg;
  std::string node_name;
  // Replaced whole when the key file changes (rotation, retirement); each
  // socket read takes the ring once.
  std::atomic<std::shared_ptr<const keyring>> keys;
  // The client port's TLS context ([server.tls]), null without TLS. Replaced
  // whole by a reload; each connection keeps the one it was accepted with.
  std::atomic<std::shared_ptr<boost::asio::ssl::context>> tls;
  request_backend* backend = nullptr;
  net::front_door_metrics* metrics = nullptr;
  request_stats* stats = nullptr;  // null: request metrics off
  std::atomic<uint32_t> open_connections{0};
  // What every read buffer holds beyond its base (server.read_buffer_budget_bytes);
  // outlives the connections, which give their leases back as they go.
  std::unique_ptr<read_budget> budget;

  // Live connections, so that a stopping node can tell each one.
  std::mutex registry_mutex;
  std::vector<std::weak_ptr<connection>> registry;
  // Set under registry_mutex when the node stops: a connection that starts
  // afterwards drains at once, with the same deadline.
  bool stopping = false;
  std::chrono::steady_clock::time_point drain_deadline;
  // Connections told to drain and not closed yet: the front door waits for 0.
  std::atomic<uint32_t> draining{0};
  // Connections closed at the drain deadline (plus linger) with replies owed
  // or unwritten, and how many requests were still owed on them.
  std::atomic<uint32_t> cut_off{0};
  std::atomic<uint64_t> cut_off_owed{0};
};

class connection final : public reply_sink, public std::enable_shared_from_this<connection> {
 public:
  // With `tls` the connection speaks TLS: it completes a handshake before it
  // reads a request, and every reply goes through the I/O thread (an SSL
  // stream is not shared between threads).
  connection(boost::asio::ip::tcp::socket socket, connection_context& ctx, turn_batch& turn,
             std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~connection() override;

  void start();

  // The node is stopping (docs/protocol.md, section 6): sends the notice
  // (`unavailable`, id 0), then keeps reading and refuses every request it
  // reads `unavailable`. Once the client half-closed or sent nothing for
  // drain_quiet (at the latest at `deadline`) it stops reading; once every
  // reply owed is written it shuts its sending side (the client reads EOF
  // after the last reply) and closes when the client does. linger_bound
  // after `deadline` it closes whatever is left. Call on the I/O thread,
  // once per ctx.draining count taken for it.
  void shut_down(std::chrono::steady_clock::time_point deadline);
  boost::asio::any_io_executor executor() { return socket_.get_executor(); }

  // reply_sink: any thread.
  void deliver(std::string&& frames, size_t count) override;
  // Once the client has sent its EOF or the socket is closed. A client that
  // gave up looks the same as one that only half-closed, so work still
  // queued for either (a password check) is refused rather than done.
  bool abandoned() const override { return peer_done_.load(std::memory_order_relaxed); }

 private:
  // -- I/O thread ------------------------------------------------------------
  void begin_tls();
  void refuse_plaintext();
  void continue_handshake();
  void on_handshake(const boost::system::error_code& ec);
  void shut_tls_then_linger();
  template <class Handler>
  void when_ready(tls_step step, Handler&& handler);
  void start_read();
  void read_tls(bool woke = false);
  void read_more(bool pumped = false);
  static void read_pump(turn_batch& turn, uint32_t per_pass);
  size_t front_frame_bytes() const;
  void refuse_over_budget(size_t frame_bytes);
  void on_read(const boost::system::error_code& ec, size_t n);
  void process_input();
  bool handle_frame(std::string_view body, std::vector<session_op>& ops);
  void dispatch(const request_view& r, std::vector<session_op>& ops);
  template <class Reply>
  void answer(op_kind op, const Reply& reply);
  std::optional<session_key> caller_key(const request_view& r);
  void answer_error(const request_view& r, error_code code, std::string_view why);
  std::shared_ptr<owed_replies> owe_one(const request_view& r);  // counts it in flight
  void submit(const std::vector<session_op>& ops);
  void publish_local_replies();
  void on_write(const boost::system::error_code& ec);
  void after_output();
  void arm_idle_timer();
  void arm_close_timer();
  bool unread_input();
  std::chrono::milliseconds quiet_bound() const;
  std::chrono::steady_clock::time_point quiet_since();
  std::chrono::steady_clock::time_point quiet_since_locked() const;
  void on_close_timer();
  void request_close();
  void close_now();
  bool may_read();

  // -- out_mutex_ held -------------------------------------------------------
  void flush_locked();
  void shut_send_locked();
  void close_locked();
  size_t send_now(const std::string& bytes);
  void write_tls_locked();

  boost::asio::ip::tcp::socket socket_;
  // Over socket_ when the port speaks TLS; set at construction, never
  // changed, so any thread may test it.
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  std::unique_ptr<tls_channel> tls_;
  boost::asio::steady_timer idle_timer_;
  boost::asio::steady_timer close_timer_;  // while draining or lingering: when to move on
  connection_context& ctx_;
  turn_batch& turn_;            // this I/O thread's batch

  // I/O thread only.
  bool raw_reads_ = false;      // TLS is over (close_notify sent): what arrives is dropped raw
  // The client's verified certificate (mutual TLS): proves login_certificate,
  // and is what the connection's bound tokens must have been issued to.
  std::shared_ptr<const certificate_identity> certificate_;
  const certificate_digest* presented() const { return certificate_ ? &certificate_->digest : nullptr; }
  bool tls_closing_ = false;    // our close_notify waits for the socket
  bool tls_drained_ = false;    // inside read_tls: the read just done emptied the socket
  read_buffer in_;              // bytes read, not yet framed
  bool reading_ = false;        // an async read is outstanding
  bool in_busy_readers_ = false;  // queued in turn_.busy_readers
  bool last_read_filled_ = false;  // the last read filled the buffer: grow it
  reply_buffer local_;          // replies made by this thread during one read
  std::vector<session_op> read_ops_;  // the session ops of one read, for submit()
  int64_t read_at_ms_ = 0;      // the wall clock when this read was parsed
  uint32_t last_read_requests_ = 0;  // frames the last read carried (busy: server.light_inflight)
  request_tally local_tally_;            // outcomes of local_, recorded once per read
  std::shared_ptr<const keyring> keys_;  // the ring for this read's tokens
  uint32_t refused_tokens_ = 0;          // tokens refused in this read: one event per read
  std::string peer_ip_;                  // the client's address, for events
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point last_read_;  // the last bytes read
  bool draining_ = false;       // the notice is sent: requests read are refused
  std::chrono::steady_clock::time_point drain_deadline_;
  bool lingering_ = false;      // our side is shut: what arrives is dropped until EOF
  std::chrono::steady_clock::time_point linger_until_;

  // Guarded by out_mutex_.
  std::mutex out_mutex_;
  std::string pending_;         // reply bytes not yet handed to the socket
  std::string writing_;         // bytes of the async write in flight
  size_t tls_written_ = 0;      // TLS: how much of writing_ is sent (the rest waits for the socket)
  bool writing_active_ = false; // an async write is outstanding
  size_t inflight_ = 0;         // requests handed to the backend, not yet answered
  bool read_paused_ = false;    // reading stopped for backpressure; deliver() wakes it
  bool closing_ = false;        // no more reads; our EOF once everything is answered
                                // (set on the I/O thread only, which may read it unlocked)
  bool closed_ = false;         // the socket is closed: nothing may touch its fd
  bool handshaken_ = false;     // TLS: the handshake completed (always true without TLS)
  std::chrono::steady_clock::time_point last_write_progress_;  // a write moved bytes

  std::atomic<bool> peer_done_{false};  // the client's EOF was read, or the socket closed
};

}  // namespace castellan::net
