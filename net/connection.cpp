// Per-connection protocol handling. One socket read is parsed into as many
// frames as it holds; pings and refusals are answered inline, session ops go
// to the backend as one batch, and all replies ready at that point leave in
// one write (Redis's clients_pending_write habit). Reading pauses while too
// many requests are in flight or too many reply bytes are unsent.
#include "net/connection.hpp"

#include <chrono>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "monitor/metrics.hpp"
#include "net/messages.hpp"

namespace castellan::net {
namespace asio = boost::asio;

namespace {

constexpr size_t initial_read_buffer = 64 * 1024;
constexpr size_t max_unsent_reply_bytes = 4 * 1024 * 1024;

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

template <class F>
void count(monitor::front_door_metrics* m, F&& f) {
  if (m)
    f(*m);
}

}  // namespace

connection::connection(asio::ip::tcp::socket socket, connection_context& ctx)
    : socket_(std::move(socket)), idle_timer_(socket_.get_executor()), ctx_(ctx),
      in_(initial_read_buffer) {
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
  last_activity_ = std::chrono::steady_clock::now();
  arm_idle_timer();
  read_more();
}

bool connection::may_read() const {
  return !closing_ && !closed_ && !reading_ && inflight_ < ctx_.cfg.max_inflight_per_connection &&
         pending_.bytes().size() + writing_.size() < max_unsent_reply_bytes;
}

void connection::read_more() {
  if (!may_read())
    return;
  // A frame may need more room than the buffer has: grow up to max frame size.
  size_t needed = std::max(in_used_ + 4096, initial_read_buffer);
  auto scan = scan_frame({in_.data(), in_used_}, ctx_.cfg.max_frame_bytes);
  if (scan.status == frame_status::need_more && scan.declared_length)
    needed = std::max(needed, frame_header_bytes + scan.declared_length);
  if (in_.size() < needed)
    in_.resize(needed);
  reading_ = true;
  socket_.async_read_some(asio::buffer(in_.data() + in_used_, in_.size() - in_used_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      size_t n) { self->on_read(ec, n); });
}

void connection::on_read(const boost::system::error_code& ec, size_t n) {
  reading_ = false;
  if (closed_)
    return;
  if (ec) {
    // EOF in the middle of a frame: say so before closing, never a silent close.
    if (ec == asio::error::eof && in_used_ > 0) {
      pending_.add_error(connection_level_id, error_code::malformed,
                         "connection closed in the middle of a frame");
      close_after_flush();
      flush();
      return;
    }
    if (ec == asio::error::eof && (inflight_ > 0 || writing_active_ || !pending_.empty())) {
      close_after_flush();  // half-closed client: still answer what it sent
      return;
    }
    close_now();
    return;
  }
  in_used_ += n;
  last_activity_ = std::chrono::steady_clock::now();
  process_input();
  flush();
  read_more();
}

void connection::process_input() {
  std::vector<session_op> ops;
  size_t pos = 0;
  while (!closing_) {
    auto scan = scan_frame({in_.data() + pos, in_used_ - pos}, ctx_.cfg.max_frame_bytes);
    if (scan.status == frame_status::need_more)
      break;
    if (scan.status == frame_status::too_large) {
      count(ctx_.metrics, [](auto& m) { m.refused_too_large->Increment(); });
      pending_.add_error(connection_level_id, error_code::too_large,
                         "frame of " + std::to_string(scan.declared_length) +
                             " bytes exceeds the maximum of " +
                             std::to_string(ctx_.cfg.max_frame_bytes));
      close_after_flush();
      break;
    }
    pos += scan.frame_bytes;
    if (!handle_frame(scan.body, ops))
      break;
  }
  // Keep the unframed rest at the front of the buffer.
  if (closing_)
    in_used_ = 0;
  else if (pos > 0) {
    std::memmove(in_.data(), in_.data() + pos, in_used_ - pos);
    in_used_ -= pos;
  }
  if (!ops.empty()) {
    inflight_ += ops.size();
    ctx_.backend->submit_session_ops(std::move(ops), shared_from_this());
  }
  zone_.clear();
}

bool connection::handle_frame(std::string_view body, std::vector<session_op>& ops) {
  auto parsed = parse_request(body, zone_);
  switch (parsed.status) {
    case parse_status::not_msgpack:
      count(ctx_.metrics, [](auto& m) { m.refused_not_msgpack->Increment(); });
      pending_.add_error(connection_level_id, error_code::malformed, parsed.why);
      close_after_flush();
      return false;
    case parse_status::bad_request:
      count(ctx_.metrics, [](auto& m) { m.refused_bad_request->Increment(); });
      pending_.add_error(parsed.request.id, error_code::malformed, parsed.why);
      return true;
    case parse_status::ok:
      dispatch(parsed.request, ops);
      return true;
  }
  return true;
}

void connection::dispatch(const request_view& r, std::vector<session_op>& ops) {
  count(ctx_.metrics, [&](auto& m) { m.requests[static_cast<size_t>(r.kind)]->Increment(); });
  switch (r.kind) {
    case op_kind::ping:
      pending_.add(ping_reply{r.id, true, ctx_.node_name, wall_ms()});
      return;
    case op_kind::validate:
    case op_kind::refresh:
    case op_kind::logout: {
      auto sid = ctx_.keys->verify(r.token);
      if (!sid) {
        count(ctx_.metrics, [](auto& m) { m.refused_bad_token->Increment(); });
        pending_.add_error(r.id, error_code::invalid_token, "token is not valid");
        return;
      }
      ops.push_back(session_op{r.id, r.kind, *sid});
      return;
    }
    case op_kind::login: {
      ++inflight_;
      login_job job{r.id, std::string(r.user), std::string(r.password), std::string(r.ip)};
      if (job.ip.empty()) {
        boost::system::error_code ec;
        auto remote = socket_.remote_endpoint(ec);
        if (!ec)
          job.ip = remote.address().to_string();
      }
      ctx_.backend->submit_login(std::move(job), shared_from_this());
      return;
    }
    case op_kind::unknown:
      pending_.add_error(r.id, error_code::unknown_op, "unknown op \"" + std::string(r.op.substr(0, 32)) + "\"");
      return;
  }
}

void connection::deliver(std::string&& frames, size_t count) {
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), frames = std::move(frames), count]() mutable {
               self->on_delivered(std::move(frames), count);
             });
}

void connection::on_delivered(std::string&& frames, size_t count) {
  inflight_ -= std::min(inflight_, count);
  if (closed_)
    return;
  auto& out = pending_.bytes();
  if (out.empty())
    out = std::move(frames);
  else
    out += frames;
  flush();
  read_more();
}

void connection::flush() {
  if (writing_active_ || closed_)
    return;
  if (pending_.empty() && pending_.bytes().empty()) {
    if (closing_ && inflight_ == 0)
      close_now();
    return;
  }
  writing_ = pending_.take();
  writing_active_ = true;
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->on_write(ec);
                    });
}

void connection::on_write(const boost::system::error_code& ec) {
  writing_active_ = false;
  writing_.clear();
  if (ec) {
    close_now();
    return;
  }
  flush();
  read_more();
}

void connection::arm_idle_timer() {
  auto idle = std::chrono::milliseconds(ctx_.cfg.idle_timeout_ms);
  idle_timer_.expires_at(last_activity_ + idle);
  idle_timer_.async_wait([self = shared_from_this(), idle](const boost::system::error_code& ec) {
    if (ec || self->closed_)
      return;
    bool busy = self->inflight_ > 0 || self->writing_active_;
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

void connection::close_after_flush() {
  closing_ = true;
}

void connection::close_now() {
  if (closed_)
    return;
  closed_ = true;
  boost::system::error_code ignored;
  idle_timer_.cancel();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace castellan::net
