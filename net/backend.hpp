// The seam between the front door (Asio, net/) and the actors (CAF, actors/).
// The front door hands work over in batches and never waits: the backend
// answers later, from any thread, through the connection's reply_sink.
// Keeping this interface CAF-free keeps CAF headers out of net/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/frame_codec.hpp"
#include "net/token.hpp"

namespace castellan::net {

// Where encoded replies go. deliver() may be called from any thread.
class reply_sink {
 public:
  virtual ~reply_sink() = default;
  // `frames` holds `count` complete reply frames, answering `count` requests.
  virtual void deliver(std::string&& frames, size_t count) = 0;
  // The same, with each frame's result; a sink that forwards replies to
  // another node keeps them (the asking node counts them by result).
  virtual void deliver_replies(reply_buffer&& replies) {
    size_t n = replies.count();
    deliver(replies.take(), n);
  }
  // True once nobody reads what is delivered any more (the client's
  // connection closed): work still queued for it may be skipped.
  virtual bool abandoned() const { return false; }
};

using reply_sink_ptr = std::shared_ptr<reply_sink>;

class owed_replies;  // net/owed_replies.hpp

// A validate, refresh or logout whose token already passed the MAC check.
struct session_op {
  uint64_t request_id = 0;
  op_kind kind = op_kind::validate;
  uint32_t sink = 0;  // index into the batch's sinks: where the reply goes
  session_key key{};
  bool local_read = false;  // validate with consistency "local": any holder may answer
  // Answered from a copy that may lack writes acknowledged elsewhere (a local
  // read, or a logout, on a member whose lease lapsed): done if the session
  // is found live, otherwise `unavailable`, never `invalid_token` or `expired`.
  bool confirm_only = false;
};

// The session ops of every connection an I/O thread served in one turn of
// its event loop, with where each reply goes. One batch, one actor message
// per shard, however many connections contributed.
struct op_batch {
  std::vector<session_op> ops;
  // Per contributing connection: its sink and the ids it is owed. Whatever
  // is not answered when the last holder lets go is answered `unavailable`.
  std::vector<std::shared_ptr<owed_replies>> owed;
};

// A login attempt. The password is wiped by whoever finishes with it.
// The verified client certificate a login_certificate proves itself with.
struct certificate_identity {
  certificate_digest digest{};      // SHA-256 of the certificate: its tokens are bound to it
  std::vector<std::string> names;   // "CN=...", "DNS:...", "URI:..." as users files name them
};

struct login_job {
  uint64_t request_id = 0;
  std::string user;
  std::string password;  // empty for a login_certificate
  std::string ip;
  std::shared_ptr<const certificate_identity> certificate;  // set: login_certificate
};

// What the node can say about itself without waiting (op `health`).
struct node_health {
  bool audit_writable = true;
  std::string audit_error;
};

class request_backend {
 public:
  virtual ~request_backend() = default;

  // Answers every op through its sink, each exactly once, in any order.
  // Called once per event-loop turn of an I/O thread with all its session ops.
  virtual void submit_session_ops(op_batch&& batch) = 0;

  // Answers a validate on the calling I/O thread, without handing it to
  // another thread, when this node's own copy settles it: adds the reply to
  // `out`, sets `result` (request_stats.hpp's code) and returns true. False:
  // the op goes through submit_session_ops like the others.
  // `now_ms`: the wall clock of the read it came in.
  virtual bool validate_here(const session_op&, int64_t /*now_ms*/, reply_buffer&,
                             uint8_t& /*result*/) {
    return false;
  }

  // Answers the login through `owed` exactly once (token, bad_credentials,
  // rate_limited, forbidden or unavailable). The rate limiter is asked
  // first; password checks happen off the caller's thread.
  virtual void submit_login(login_job&& job, std::shared_ptr<owed_replies> owed) = 0;

  // Fault injection: if enabled and `key` is an admin's session, makes
  // `target` throw (its supervisor restarts it); else forbidden/invalid_token.
  virtual void debug_crash(const session_key& key, std::string target,
                           std::shared_ptr<owed_replies> owed) = 0;

  // Benchmarks: if testing.populate is on and `key` is an admin's session,
  // opens `count` sessions for that user; else forbidden/invalid_token.
  virtual void debug_populate(const session_key& key, uint64_t count,
                              std::shared_ptr<owed_replies> owed) = 0;

  // Ends every session of `user` (everywhere in a cluster) if `caller` is an
  // admin's session or one of `user`'s own; answers revoke_user_reply with
  // the count once every ending is durable on every holder, or
  // invalid_token/expired/forbidden/unavailable.
  virtual void revoke_user(const session_key& caller, std::string user,
                           std::shared_ptr<owed_replies> owed) = 0;

  // The node's health now; cheap, callable from any thread.
  virtual node_health health() const = 0;

  // The monitor's latest summary (op `metrics_summary`), as an encoded reply
  // map for request `id`; cheap, callable from any thread.
  virtual void metrics_summary(uint64_t id, reply_buffer& out) const = 0;

  // The cluster as this node sees it (op `cluster_status`), as an encoded
  // reply for request `id`; a node outside any cluster reports itself alone.
  virtual void cluster_status(uint64_t id, reply_buffer& out) const = 0;

  // `count` tokens from `ip` failed the MAC check in one socket read (an event).
  virtual void note_refused_tokens(const std::string& ip, uint64_t count) = 0;
};

}  // namespace castellan::net
