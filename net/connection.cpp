// Per-connection protocol handling. One socket read is parsed into as many
// frames as it holds; pings and refusals are answered inline, session ops go
// to the backend as one batch, and all replies ready at that point leave in
// one write (Redis's clients_pending_write habit). Reading pauses while too
// many requests are in flight or too many reply bytes are unsent.
//
// Closing is always orderly: once every request read is answered and the
// replies are written, the sending side is shut (the client reads EOF after
// the last reply) and what still arrives is dropped unparsed until the
// client closes too. Closing a socket with unread input would send a reset,
// which can destroy replies the client has not read yet. A stopping node
// drains each connection that way (shut_down, docs/protocol.md section 6).
#include "net/connection.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "config/logging.hpp"
#include "net/front_door_metrics.hpp"
#include "net/messages.hpp"
#include "net/owed_replies.hpp"
#include "net/tls_server.hpp"
#include "net/utf8.hpp"
#include "net/wall_clock.hpp"

namespace castellan::net {
namespace asio = boost::asio;

namespace {

// A password in a buffer of its own on the heap, never a string's inline
// buffer: moving the login on moves the pointer and leaves no copy behind
// (the pool zeroes the one buffer after the check).
std::string heap_secret(std::string_view secret) {
  std::string out;
  out.reserve(std::max<size_t>(secret.size(), 2 * sizeof(std::string)));
  out.assign(secret);
  return out;
}

constexpr size_t max_unsent_reply_bytes = 4 * 1024 * 1024;

template <class F>
void count(net::front_door_metrics* m, F&& f) {
  if (m)
    f(*m);
}

// Names the op the client sent, as valid UTF-8 and at most 32 bytes of it:
// the client's bytes may be anything (utf8.hpp). It was cut if one more
// piece (a character or a U+FFFD, at most 4 bytes) follows what was shown.
std::string unknown_op_message(std::string_view op) {
  constexpr size_t shown = 32;
  auto safe = utf8_safe(op, shown);
  bool cut = utf8_safe(op, shown + 4).size() > safe.size();
  return "unknown op \"" + safe + (cut ? "\" (cut)" : "\"");
}

}  // namespace

connection::connection(asio::ip::tcp::socket socket, connection_context& ctx, turn_batch& turn,
                       std::shared_ptr<asio::ssl::context> tls)
    : socket_(std::move(socket)),
      tls_context_(std::move(tls)),
      idle_timer_(socket_.get_executor()),
      close_timer_(socket_.get_executor()),
      ctx_(ctx),
      turn_(turn),
      in_(ctx.budget.get()) {
  if (tls_context_)
    tls_ = std::make_unique<tls_channel>(tls_context_->native_handle(), socket_.native_handle());
  handshaken_ = !tls_;
  ctx_.open_connections.fetch_add(1, std::memory_order_relaxed);
  count(ctx_.metrics, [](auto& m) { m.connections_open->Increment(); });
}

connection::~connection() {
  ctx_.open_connections.fetch_sub(1, std::memory_order_relaxed);
  count(ctx_.metrics, [](auto& m) { m.connections_open->Decrement(); });
}

void connection::start() {
  boost::system::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  auto remote = socket_.remote_endpoint(ignored);
  if (!ignored)
    peer_ip_ = remote.address().to_string();
  last_activity_ = std::chrono::steady_clock::now();
  last_write_progress_ = last_activity_;
  last_read_ = last_activity_;
  std::optional<std::chrono::steady_clock::time_point> stopping;
  {
    std::lock_guard<std::mutex> guard(ctx_.registry_mutex);
    auto& r = ctx_.registry;
    if (r.size() > 64 && r.size() > 2 * ctx_.open_connections.load())
      std::erase_if(r, [](const std::weak_ptr<connection>& w) { return w.expired(); });
    r.push_back(weak_from_this());
    if (ctx_.stopping) {  // accepted just before the listener closed
      ctx_.draining.fetch_add(1);
      stopping = ctx_.drain_deadline;
    }
  }
  arm_idle_timer();
  if (stopping)
    shut_down(*stopping);
  if (tls_)
    begin_tls();
  else
    read_more();
}

// ============================================================================
// TLS (I/O thread)
// ============================================================================

// A TLS client's first byte is a handshake record's type (22). Anything
// else is a client speaking the plaintext protocol to a TLS port: it is
// told so in a plaintext error frame, rather than left waiting for a
// handshake that never comes or shown a TLS alert it cannot read.
void connection::begin_tls() {
  close_timer_.expires_after(std::chrono::milliseconds(ctx_.cfg.tls.handshake_timeout_ms));
  close_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->handshaken_ || self->lingering_)
      return;
    count(self->ctx_.metrics, [](auto& m) { m.tls_handshakes_timed_out->Increment(); });
    self->close_now();
  });
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       if (ec) {
                         self->close_now();
                         return;
                       }
                       unsigned char first = 0;
                       ssize_t n = ::recv(self->socket_.native_handle(), &first, 1, MSG_PEEK);
                       if (n <= 0) {
                         self->close_now();  // gone before it said anything
                         return;
                       }
                       if (first != 22) {
                         self->refuse_plaintext();
                         return;
                       }
                       self->continue_handshake();
                     });
}

// Waits for the socket as the last TLS step asked, then runs `handler` with
// the wait's outcome. Arming a wait re-registers the socket with epoll
// (Boost 1.74's reactor: EPOLL_CTL_MOD for an op that is not speculative),
// which checks readiness afresh: bytes or an EOF that came before the wait
// still wake it.
template <class Handler>
void connection::when_ready(tls_step step, Handler&& handler) {
  socket_.async_wait(step == tls_step::want_write ? asio::ip::tcp::socket::wait_write
                                                  : asio::ip::tcp::socket::wait_read,
                     std::forward<Handler>(handler));
}

void connection::continue_handshake() {
  if (!socket_.is_open()) {  // closed meanwhile (the handshake timeout)
    on_handshake(asio::error::operation_aborted);
    return;
  }
  auto io = tls_->handshake();
  if (io.step == tls_step::want_read || io.step == tls_step::want_write) {
    when_ready(io.step, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec)
        self->on_handshake(ec);
      else
        self->continue_handshake();
    });
    return;
  }
  on_handshake(io.error);
}

void connection::refuse_plaintext() {
  count(ctx_.metrics, [](auto& m) { m.tls_handshakes_not_tls->Increment(); });
  reply_buffer out;
  out.add_error(connection_level_id, error_code::malformed,
                "this port speaks TLS (server.tls): connect with TLS");
  auto bytes = std::make_shared<std::string>(out.take());
  raw_reads_ = true;
  lingering_ = true;  // from now on what arrives is dropped, never read as requests
  linger_until_ = std::chrono::steady_clock::now() + linger_bound;
  asio::async_write(socket_, asio::buffer(*bytes),
                    [self = shared_from_this(), bytes](const boost::system::error_code& ec, size_t) {
                      {
                        std::lock_guard<std::mutex> guard(self->out_mutex_);
                        if (self->closed_)
                          return;
                        if (ec) {
                          self->close_locked();
                          return;
                        }
                        boost::system::error_code ignored;
                        self->socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
                      }
                      self->arm_close_timer();
                      self->read_more();  // drops what the client sent until its EOF
                    });
}

void connection::on_handshake(const boost::system::error_code& ec) {
  if (peer_done_.load(std::memory_order_relaxed))
    return;  // closed meanwhile (the handshake timeout)
  if (ec) {
    // A wrong version, no certificate or one from another CA, an expired
    // one: OpenSSL has sent the client its alert. The reason is OpenSSL's
    // (it names no secret).
    count(ctx_.metrics, [](auto& m) { m.tls_handshakes_failed->Increment(); });
    spdlog::debug("client {}: TLS handshake refused: {}", peer_ip_, ec.message());
    close_now();
    return;
  }
  count(ctx_.metrics, [](auto& m) { m.tls_handshakes_ok->Increment(); });
  certificate_ = client_certificate_of(tls_->native_handle());
  {
    std::lock_guard<std::mutex> guard(out_mutex_);
    handshaken_ = true;
    flush_locked();  // a notice queued meanwhile
  }
  close_timer_.cancel();
  after_output();  // reads next (or shuts, had everything been said)
}

// Our close_notify, then our TCP EOF; what still arrives, the client's
// close_notify among it, is dropped raw until the client closes (the
// linger, as without TLS). Called with out_mutex_ held, on the I/O thread.
void connection::shut_tls_then_linger() {
  auto io = tls_->close_notify();
  if (io.step == tls_step::want_read || io.step == tls_step::want_write) {
    tls_closing_ = true;  // no read meanwhile: the TLS state is the close's
    when_ready(io.step, [self = shared_from_this()](const boost::system::error_code& ec) {
      self->tls_closing_ = false;
      {
        std::lock_guard<std::mutex> guard(self->out_mutex_);
        if (self->closed_)
          return;
        if (!ec) {
          self->shut_tls_then_linger();
          if (self->tls_closing_)
            return;
        }
      }
      self->read_more();
    });
    return;
  }
  raw_reads_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

// As socket_.async_read_some into the buffer's free room, through TLS when
// the connection speaks it: on_read runs with what was read, never inside
// this call.
void connection::start_read() {
  if (tls_ && !raw_reads_) {
    read_tls();
    return;
  }
  socket_.async_read_some(asio::buffer(in_.free_begin(), in_.free_bytes()),
                          [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                            self->on_read(ec, n);
                          });
}

// `woke`: called by the readiness wait, so on_read may run right here, and
// a read that emptied the socket lets the next one (read_more, inside this
// on_read) wait at once, with no receive that would only hear EAGAIN (the
// wait checks readiness afresh when armed: when_ready).
void connection::read_tls(bool woke) {
  if (!socket_.is_open()) {  // closed meanwhile: its descriptor may be another's now
    asio::post(socket_.get_executor(),
               [self = shared_from_this()] { self->on_read(asio::error::operation_aborted, 0); });
    return;
  }
  tls_io io;
  if (tls_drained_)
    io.step = tls_step::want_read;
  else
    io = tls_->read(in_.free_begin(), in_.free_bytes());
  tls_drained_ = false;
  if (io.bytes == 0 && (io.step == tls_step::want_read || io.step == tls_step::want_write)) {
    when_ready(io.step, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec)
        self->on_read(ec, 0);
      else
        self->read_tls(true);
    });
    return;
  }
  boost::system::error_code ec;
  if (io.bytes == 0)
    ec = io.step == tls_step::closed ? boost::system::error_code(asio::error::eof) : io.error;
  if (!woke) {
    asio::post(socket_.get_executor(), [self = shared_from_this(), ec, n = io.bytes] { self->on_read(ec, n); });
    return;
  }
  tls_drained_ = io.drained;
  on_read(ec, io.bytes);
  tls_drained_ = false;  // a read armed later (the pump's) must ask the socket first
}

void connection::shut_down(std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> guard(out_mutex_);
    if (closed_ || draining_) {
      ctx_.draining.fetch_sub(1);  // nothing left to drain
      return;
    }
    if (!handshaken_) {  // a TLS client still shaking hands has sent no request
      draining_ = true;
      close_locked();
      return;
    }
  }
  draining_ = true;
  drain_deadline_ = deadline;
  if (!lingering_)  // else its EOF is on the wire already: too late to say why
    local_.add_error(connection_level_id, error_code::unavailable, "node shutting down");
  arm_close_timer();
  publish_local_replies();
}

// ============================================================================
// Reading and parsing (I/O thread)
// ============================================================================

bool connection::may_read() {
  if (reading_ || tls_closing_ || (!handshaken_ && !raw_reads_))
    return false;
  std::lock_guard<std::mutex> guard(out_mutex_);
  if (closed_)
    return false;
  if (lingering_)
    return true;  // only to see the client's EOF
  if (closing_)
    return false;
  read_paused_ = inflight_ >= ctx_.cfg.max_inflight_per_connection ||
                 pending_.size() + writing_.size() >= max_unsent_reply_bytes;
  return !read_paused_;
}

// The buffer grows with the bytes that arrive (read_buffer.hpp), never to
// the length a header announces.
void connection::read_more(bool pumped) {
  if (in_busy_readers_ && !pumped)
    return;  // its turn comes with the pump
  if (!may_read())
    return;
  if (!pumped && !lingering_ && ctx_.cfg.light_inflight > 0) {
    bool busy;
    {
      std::lock_guard<std::mutex> guard(out_mutex_);
      // Requests answered in the read itself (validates on one node) are
      // never in flight: the read's own count says the same.
      busy = inflight_ > ctx_.cfg.light_inflight || last_read_requests_ > ctx_.cfg.light_inflight;
    }
    if (busy) {
      in_busy_readers_ = true;
      turn_.busy_readers.push_back(shared_from_this());
      if (!turn_.pump_posted) {
        turn_.pump_posted = true;
        asio::post(socket_.get_executor(), [&turn = turn_, n = ctx_.cfg.busy_reads_per_pass] {
          read_pump(turn, n);
        });
      }
      return;
    }
  }
  if (lingering_)
    in_.clear();  // what arrives after our EOF is dropped, never read as requests
  size_t frame_bytes = front_frame_bytes();
  if (!in_.make_room(frame_bytes, last_read_filled_)) {
    refuse_over_budget(frame_bytes);
    return;
  }
  reading_ = true;
  start_read();
}

// Arms the reads of up to `per_pass` busy connections, then yields to the
// reactor and the handlers queued meanwhile (a light connection's read among
// them) before the next pass: deficit round robin over busy connections.
void connection::read_pump(turn_batch& turn, uint32_t per_pass) {
  std::vector<std::shared_ptr<connection>> pass;
  for (uint32_t i = 0; i < per_pass && !turn.busy_readers.empty(); ++i) {
    pass.push_back(std::move(turn.busy_readers.front()));
    turn.busy_readers.pop_front();
    pass.back()->in_busy_readers_ = false;
  }
  // The next pass is posted first, so nothing this pass does can leave the
  // rest waiting for a pump nobody posted.
  turn.pump_posted = !turn.busy_readers.empty();
  if (turn.pump_posted)
    asio::post(turn.busy_readers.front()->socket_.get_executor(),
               [&turn, per_pass] { read_pump(turn, per_pass); });
  for (auto& c : pass)
    c->read_more(true);
}

// Header + body of the frame at the front of the buffer, once its header is in.
size_t connection::front_frame_bytes() const {
  auto scan = scan_frame(in_.held(), ctx_.cfg.max_frame_bytes);
  return scan.status == frame_status::need_more && scan.declared_length > 0
             ? frame_header_bytes + scan.declared_length
             : 0;
}

// Every read buffer together holds the node's budget and this frame needs
// more. Refused like a frame too large, at once, rather than by pausing the
// read: a paused connection would keep its bytes while it waits for others
// that may never finish theirs.
void connection::refuse_over_budget(size_t frame_bytes) {
  count(ctx_.metrics, [](auto& m) { m.refused_read_budget->Increment(); });
  local_.add_error(connection_level_id, error_code::unavailable,
                   "frame of " + std::to_string(frame_bytes - frame_header_bytes) +
                       " bytes refused: the node holds too many partial frames "
                       "(server.read_buffer_budget_bytes); retry later");
  in_.clear();
  in_.trim(false);
  request_close();
  publish_local_replies();
}

void connection::on_read(const boost::system::error_code& ec_read, size_t n) {
  reading_ = false;
  // A TLS client that closed without its close_notify is an EOF too
  // (tls_channel): our protocol frames every message, so a cut cannot pass
  // for a complete one.
  const auto& ec = ec_read;
  if (lingering_) {
    if (ec == asio::error::operation_aborted)
      return;
    if (ec)
      close_now();  // the client closed too (or failed): done
    else
      read_more();
    return;
  }
  if (ec) {
    if (ec == asio::error::operation_aborted) {
      after_output();  // cancelled by a closing connection: its EOF may go now
      return;
    }
    // EOF in the middle of a frame: say so before closing, never a silent close.
    if (ec == asio::error::eof && in_.used() > 0)
      local_.add_error(connection_level_id, error_code::malformed,
                       "connection closed in the middle of a frame");
    if (ec == asio::error::eof) {
      peer_done_.store(true, std::memory_order_relaxed);
      // A half-closed client still gets a reply to everything it sent; a
      // login still queued for a password check is answered `unavailable`
      // (abandoned(): the node cannot tell it from a client that gave up).
      request_close();
      publish_local_replies();
      return;
    }
    close_now();
    return;
  }
  last_read_filled_ = n == in_.free_bytes();
  in_.commit(n);
  last_activity_ = std::chrono::steady_clock::now();
  last_read_ = last_activity_;
  process_input();
  in_.trim(last_read_filled_);  // give back what a finished frame or batch took
  publish_local_replies();
}

void connection::process_input() {
  keys_ = ctx_.keys.load(std::memory_order_acquire);
  read_at_ms_ = wall_ms();
  auto& ops = read_ops_;  // kept between reads: no allocation per read
  ops.clear();
  size_t pos = 0;
  uint32_t requests = 0;
  bool stop = false;
  auto input = in_.held();
  while (!stop) {
    auto scan = scan_frame(input.substr(pos), ctx_.cfg.max_frame_bytes);
    if (scan.status == frame_status::need_more)
      break;
    if (scan.status == frame_status::too_large) {
      count(ctx_.metrics, [](auto& m) { m.refused_too_large->Increment(); });
      local_.add_error(connection_level_id, error_code::too_large,
                       "frame of " + std::to_string(scan.declared_length) +
                           " bytes exceeds the maximum of " +
                           std::to_string(ctx_.cfg.max_frame_bytes));
      stop = true;
      break;
    }
    pos += scan.frame_bytes;
    ++requests;
    stop = !handle_frame(scan.body, ops);
  }
  last_read_requests_ = requests;
  if (stop) {
    in_.clear();  // the stream can no longer be framed: drop the rest
    request_close();
  } else {
    in_.consume(pos);
  }
  if (!ops.empty())
    submit(ops);
  turn_.zone.clear();
  if (refused_tokens_) {
    ctx_.backend->note_refused_tokens(peer_ip_, refused_tokens_);
    refused_tokens_ = 0;
  }
}

bool connection::handle_frame(std::string_view body, std::vector<session_op>& ops) {
  auto parsed = parse_request(body, turn_.zone);
  switch (parsed.status) {
    case parse_status::not_msgpack:
      count(ctx_.metrics, [](auto& m) { m.refused_not_msgpack->Increment(); });
      local_.add_error(connection_level_id, error_code::malformed, parsed.why);
      return false;
    case parse_status::bad_request:
      count(ctx_.metrics, [](auto& m) { m.refused_bad_request->Increment(); });
      answer_error(parsed.request, error_code::malformed, parsed.why);
      return true;
    case parse_status::ok:
      dispatch(parsed.request, ops);
      return true;
  }
  return true;
}

// A request this connection answers itself, counted like any other reply.
template <class Reply>
void connection::answer(op_kind op, const Reply& reply) {
  local_.add(reply);
  local_tally_.add(op, result_ok);
}

void connection::answer_error(const request_view& r, error_code code, std::string_view why) {
  local_.add_error(r.id, code, why);
  local_tally_.add(r.kind, result_of(code));
}

owed_ptr connection::owe_one(const request_view& r) {
  {
    std::lock_guard<std::mutex> guard(out_mutex_);
    ++inflight_;
  }
  return net::owe_one(shared_from_this(), r.id, r.kind, ctx_.stats, last_activity_);
}

// The session key of the token an op acts on behalf of; answers
// invalid_token (and returns nothing) when the token does not verify.
std::optional<session_key> connection::caller_key(const request_view& r) {
  auto key = keys_->verify(r.token, presented());
  if (!key)
    answer_error(r, error_code::invalid_token, "token is not valid");
  return key;
}

void connection::dispatch(const request_view& r, std::vector<session_op>& ops) {
  if (draining_) {  // read after the notice: not processed, and the client is told so
    answer_error(r, error_code::unavailable, "node shutting down");
    return;
  }
  switch (r.kind) {
    case op_kind::ping:
      answer(r.kind, ping_reply{r.id, true, ctx_.node_name, wall_ms()});
      return;
    case op_kind::health: {
      auto h = ctx_.backend->health();
      // An OS error may quote a path, and a path is any bytes.
      answer(r.kind, health_reply{r.id, true, ctx_.node_name, h.audit_writable, h.audit_writable,
                                  utf8_safe(h.audit_error)});
      return;
    }
    case op_kind::metrics_summary:
      ctx_.backend->metrics_summary(r.id, local_);
      local_tally_.add(r.kind, result_ok);
      return;
    case op_kind::cluster_status:
      ctx_.backend->cluster_status(r.id, local_);
      local_tally_.add(r.kind, result_ok);
      return;
    case op_kind::validate:
    case op_kind::refresh:
    case op_kind::logout: {
      auto key = keys_->verify(r.token, presented());
      if (!key) {
        count(ctx_.metrics, [](auto& m) { m.refused_bad_token->Increment(); });
        ++refused_tokens_;
        answer_error(r, error_code::invalid_token, "token is not valid");
        return;
      }
      session_op op{r.id, r.kind, 0, *key, r.local_read};
      uint8_t result = result_ok;
      if (r.kind == op_kind::validate && ctx_.backend->validate_here(op, read_at_ms_, local_, result)) {
        local_tally_.add(r.kind, result);
        return;
      }
      ops.push_back(op);
      return;
    }
    case op_kind::login: {
      login_job job{r.id, std::string(r.user), heap_secret(r.password), std::string(r.ip), nullptr};
      if (job.ip.empty())
        job.ip = peer_ip_;
      ctx_.backend->submit_login(std::move(job), owe_one(r));
      return;
    }
    case op_kind::login_certificate: {
      if (!certificate_) {
        answer_error(r, error_code::forbidden,
                     "login_certificate needs a client certificate: connect with mutual TLS");
        return;
      }
      login_job job{r.id, std::string(r.user), {}, std::string(r.ip), certificate_};
      if (job.ip.empty())
        job.ip = peer_ip_;
      ctx_.backend->submit_login(std::move(job), owe_one(r));
      return;
    }
    case op_kind::revoke_user:
      if (auto key = caller_key(r))
        ctx_.backend->revoke_user(*key, std::string(r.user), owe_one(r));
      return;
    case op_kind::debug_crash:
      if (auto key = caller_key(r))
        ctx_.backend->debug_crash(*key, std::string(r.target), owe_one(r));
      return;
    case op_kind::debug_populate:
      if (auto key = caller_key(r))
        ctx_.backend->debug_populate(*key, r.count, owe_one(r));
      return;
    case op_kind::unknown:
      answer_error(r, error_code::unknown_op, unknown_op_message(r.op));
      return;
  }
}

void connection::submit(const std::vector<session_op>& ops) {
  {
    // Counted before handing over: the answer may come back before submit returns.
    std::lock_guard<std::mutex> guard(out_mutex_);
    inflight_ += ops.size();
  }
  auto& batch = turn_.pending;
  auto index = static_cast<uint32_t>(batch.owed.size());
  std::vector<owed_request> owed;
  owed.reserve(ops.size());
  for (auto op : ops) {
    op.sink = index;
    owed.push_back({op.request_id, op.kind});
    batch.ops.push_back(op);
  }
  batch.owed.push_back(
      std::make_shared<owed_replies>(shared_from_this(), std::move(owed), ctx_.stats, last_activity_));
  if (!turn_.flush_posted) {
    // Runs after the completions already queued in this turn: their reads
    // join this batch.
    turn_.flush_posted = true;
    asio::post(socket_.get_executor(), [&turn = turn_, backend = ctx_.backend] {
      turn.flush_posted = false;
      op_batch out;
      out.ops.reserve(turn.pending.ops.size());
      std::swap(out, turn.pending);
      backend->submit_session_ops(std::move(out));
    });
  }
}

// ============================================================================
// Writing (any thread for deliver; the rest on the I/O thread)
// ============================================================================

void connection::deliver(std::string&& frames, size_t count) {
  bool wake_io = false;
  {
    std::lock_guard<std::mutex> guard(out_mutex_);
    inflight_ -= std::min(inflight_, count);
    if (closed_)
      return;
    if (!tls_ && !writing_active_ && pending_.empty()) {
      size_t sent = send_now(frames);
      if (sent > 0)
        last_write_progress_ = std::chrono::steady_clock::now();
      if (sent < frames.size()) {
        pending_.assign(frames, sent, std::string::npos);
        wake_io = true;  // the I/O thread writes the rest when the socket drains
      }
    } else {
      pending_ += frames;
      wake_io = !writing_active_;
    }
    wake_io = wake_io || read_paused_ || (closing_ && inflight_ == 0);
  }
  if (wake_io)
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      {
        std::lock_guard<std::mutex> guard(self->out_mutex_);
        self->flush_locked();
      }
      self->after_output();
    });
}

// A non-blocking send of as much as the socket takes now; never waits.
size_t connection::send_now(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(socket_.native_handle(), bytes.data() + sent, bytes.size() - sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0)
      sent += static_cast<size_t>(n);
    else if (n < 0 && errno == EINTR)
      continue;
    else
      break;  // EAGAIN or an error: the I/O thread's async write takes over
  }
  return sent;
}

void connection::publish_local_replies() {
  if (ctx_.stats && !local_tally_.empty())
    ctx_.stats->record(local_tally_, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now() - last_activity_).count());
  local_tally_.clear();
  if (!local_.empty()) {
    std::lock_guard<std::mutex> guard(out_mutex_);
    if (!closed_)
      local_.move_into(pending_);
    else
      local_.take();
    flush_locked();
  }
  after_output();
}

// With TLS, all replies pending leave as one SSL write: at -P 16 a record
// carries many replies.
void connection::flush_locked() {
  if (writing_active_ || closed_ || pending_.empty() || !handshaken_ || raw_reads_ || tls_closing_)
    return;
  writing_.swap(pending_);
  pending_.clear();
  writing_active_ = true;
  if (tls_) {
    tls_written_ = 0;
    write_tls_locked();
    return;
  }
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->on_write(ec);
                    });
}

// Sends what is left of writing_ through TLS now, on the I/O thread; only
// what the socket does not take waits for it. A write finished here needs no
// completion: every caller of flush_locked calls after_output next.
void connection::write_tls_locked() {
  auto io = tls_->write(writing_.data() + tls_written_, writing_.size() - tls_written_);
  tls_written_ += io.bytes;
  if (io.bytes > 0)
    last_write_progress_ = std::chrono::steady_clock::now();
  if (io.step == tls_step::done) {
    writing_active_ = false;
    writing_.clear();
    return;
  }
  if (io.step == tls_step::want_read || io.step == tls_step::want_write) {
    when_ready(io.step, [self = shared_from_this()](const boost::system::error_code& ec) {
      {
        std::lock_guard<std::mutex> guard(self->out_mutex_);
        if (self->closed_)
          return;
        if (ec) {
          self->close_locked();
          return;
        }
        self->write_tls_locked();
        if (!self->writing_active_)
          self->flush_locked();  // what was delivered meanwhile
      }
      self->after_output();
    });
    return;
  }
  close_locked();  // the client is gone, or broke TLS: nothing more can reach it
}

void connection::on_write(const boost::system::error_code& ec) {
  {
    std::lock_guard<std::mutex> guard(out_mutex_);
    writing_active_ = false;
    writing_.clear();
    last_write_progress_ = std::chrono::steady_clock::now();
    if (ec) {
      close_locked();
      return;
    }
    flush_locked();
  }
  after_output();
}

// Shuts a closing connection's sending side once everything is answered
// and written; otherwise reads on (a lingering one, to see the client's EOF).
void connection::after_output() {
  bool shut = false;
  {
    std::lock_guard<std::mutex> guard(out_mutex_);
    if (closed_)
      return;
    if (closing_ && !lingering_) {
      if (writing_active_ || !pending_.empty() || inflight_ > 0)
        return;
      if (reading_) {
        // The read in progress may already hold requests the client sent
        // before it heard the notice: take them (or the cancellation) first.
        boost::system::error_code ignored;
        socket_.cancel(ignored);
        return;
      }
      shut_send_locked();
      shut = true;
    }
  }
  if (shut)
    arm_close_timer();  // now for the linger
  read_more();
}

// ============================================================================
// Lifetime (I/O thread)
// ============================================================================

void connection::arm_idle_timer() {
  auto idle = std::chrono::milliseconds(ctx_.cfg.idle_timeout_ms);
  idle_timer_.expires_at(last_activity_ + idle);
  idle_timer_.async_wait([self = shared_from_this(), idle](const boost::system::error_code& ec) {
    if (ec)
      return;
    bool busy, stalled;
    {
      std::lock_guard<std::mutex> guard(self->out_mutex_);
      if (self->closed_)
        return;
      busy = self->inflight_ > 0 || self->writing_active_;
      // A client that stopped reading its replies: the write has not moved
      // for a whole idle timeout. It would pin its unsent replies forever.
      stalled = self->writing_active_ &&
                std::chrono::steady_clock::now() - self->last_write_progress_ >= idle;
    }
    if (stalled) {
      count(self->ctx_.metrics, [](auto& m) { m.idle_closed->Increment(); });
      self->close_now();
      return;
    }
    if (!busy && std::chrono::steady_clock::now() - self->last_activity_ >= idle) {
      count(self->ctx_.metrics, [](auto& m) { m.idle_closed->Increment(); });
      self->close_now();
      return;
    }
    if (busy)
      self->last_activity_ = std::chrono::steady_clock::now();
    self->arm_idle_timer();
  });
}

// Not with out_mutex_ held (it takes it). While draining: stop reading once
// the client has gone quiet, or at the drain deadline. While lingering: close if the client never does. At the
// deadline plus linger_bound: close whatever is left.
void connection::arm_close_timer() {
  auto drain_quiet = quiet_bound();
  auto next = drain_deadline_ + linger_bound;
  if (lingering_)
    next = linger_until_;
  else if (draining_ && !closing_)  // never sooner than drain_quiet / 10 from now: unread input waits
    next = std::min(std::max(quiet_since() + drain_quiet, std::chrono::steady_clock::now() + drain_quiet / 10),
                    drain_deadline_);
  close_timer_.expires_at(next);
  close_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec)
      self->on_close_timer();
  });
}

void connection::on_close_timer() {
  auto now = std::chrono::steady_clock::now();
  auto drain_quiet = quiet_bound();
  {
    std::lock_guard<std::mutex> guard(out_mutex_);
    if (closed_)
      return;
    if (lingering_ ? now >= linger_until_ : now >= drain_deadline_ + linger_bound) {
      // Only a stuck component or a client that stopped reading gets here
      // with replies owed or unwritten; the front door logs them.
      if (!lingering_) {
        ctx_.cut_off.fetch_add(1);
        ctx_.cut_off_owed.fetch_add(inflight_);
      }
      close_locked();
      return;
    }
    if (!lingering_ && ((now - quiet_since_locked() >= drain_quiet && !unread_input()) ||
                        now >= drain_deadline_))
      closing_ = true;  // no more reads: answer what was read, then our EOF
  }
  after_output();
  arm_close_timer();
}

// A draining connection whose client sent nothing for this long is taken to
// have stopped (it read the notice): a request that crossed the notice on the
// wire arrives within one round trip, unless the client paused longer than
// this (docs/protocol.md, section 6, says what that costs it).
std::chrono::milliseconds connection::quiet_bound() const {
  return std::chrono::milliseconds(ctx_.cfg.drain_quiet_ms);
}

// Since when the client has had nothing to react to: neither did it send
// anything, nor did we write anything. A client that holds a window of
// requests waits for their replies before sending more; silence while
// replies were owed is ours, not the client's.
std::chrono::steady_clock::time_point connection::quiet_since() {
  std::lock_guard<std::mutex> guard(out_mutex_);
  return quiet_since_locked();
}

std::chrono::steady_clock::time_point connection::quiet_since_locked() const {
  return std::max(last_read_, last_write_progress_);
}

// Bytes the client sent that we have not read yet. A connection whose reads
// are paused (too much in flight, a slow node) looks quiet without being so:
// the requests it already sent must still be read and answered.
bool connection::unread_input() {
  // Besides what the kernel holds: records OpenSSL has read ahead and not
  // decrypted yet, and what it decrypted and we have not taken.
  if (tls_ && !raw_reads_ && socket_.is_open() && tls_->pending())
    return true;
  boost::system::error_code ec;
  return socket_.available(ec) > 0 && !ec;
}

void connection::request_close() {
  std::lock_guard<std::mutex> guard(out_mutex_);
  closing_ = true;
}

void connection::close_now() {
  std::lock_guard<std::mutex> guard(out_mutex_);
  close_locked();
}

// Our EOF goes out after every reply written so far; the socket stays open
// for reading until the client's EOF (or linger_bound), so no reset can
// overtake the replies.
void connection::shut_send_locked() {
  lingering_ = true;
  linger_until_ = std::chrono::steady_clock::now() + linger_bound;
  if (draining_)
    linger_until_ = std::min(linger_until_, drain_deadline_ + linger_bound);
  if (tls_ && handshaken_ && !raw_reads_) {
    shut_tls_then_linger();
    return;
  }
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

void connection::close_locked() {
  if (closed_)
    return;
  closed_ = true;
  peer_done_.store(true, std::memory_order_relaxed);
  if (draining_)
    ctx_.draining.fetch_sub(1);
  boost::system::error_code ignored;
  idle_timer_.cancel();
  close_timer_.cancel();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace castellan::net
