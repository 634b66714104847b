// Framing and request/reply codec shared by the server and the client library.
// The splitter is incremental (feed it any fragment of the stream); the
// request parser reads a frame body without copying strings out of it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "net/error_code.hpp"
#include "net/messages.hpp"
#include "net/protocol_schema.hpp"
#include "net/wire_format.hpp"

namespace castellan::net {

// -- framing ----------------------------------------------------------------

enum class frame_status {
  complete,   // `body` holds a whole frame body; `frame_bytes` = header + body
  need_more,  // not enough bytes yet for a header or the declared body
  too_large,  // the header declares more than the maximum; do not read the body
};

struct frame_scan {
  frame_status status = frame_status::need_more;
  std::string_view body;
  size_t frame_bytes = 0;
  uint64_t declared_length = 0;
};

// Looks for one frame at the start of `stream`. Never reads past the header of
// a frame whose declared length exceeds `max_body_bytes`.
frame_scan scan_frame(std::string_view stream, uint32_t max_body_bytes);

// Appends a 4-byte big-endian length header for a body of `n` bytes.
void append_frame_header(std::string& out, uint32_t n);

// -- requests ---------------------------------------------------------------

// A request decoded in place by the schema (protocol_schema.hpp): `kind` is
// the row its op names, and only that row's fields are set. string_views
// point into the frame body, which must outlive it.
struct request_view {
  uint64_t id = 0;
  op_kind kind = op_kind::unknown;
  std::string_view op;
  std::string_view token;     // validate / refresh / logout
  std::string_view user;      // login
  std::string_view password;  // login
  std::string_view ip;        // login, optional
  std::string_view target;    // debug_crash
  uint64_t count = 0;         // debug_populate
  bool local_read = false;    // validate: consistency "local"
};

enum class parse_status {
  ok,            // `request` is usable
  bad_request,   // valid msgpack, but not a valid request: reply malformed, keep going
  not_msgpack,   // the body is not exactly one msgpack value: reply malformed, close
};

struct parse_result {
  parse_status status = parse_status::ok;
  request_view request;  // id is set whenever it could be read, else 0
  std::string why;       // for the reply message; never echoes field values
};

// Parses one frame body. `zone` provides scratch memory; clear it between batches.
parse_result parse_request(std::string_view body, msgpack::zone& zone);

// -- replies ----------------------------------------------------------------

// Replies encoded back to back as frames, ready for one socket write, with
// the result of each (0 ok, else error code + 1) for request_stats.
class reply_buffer {
 public:
  // A successful reply (result 0).
  template <class Reply>
  void add(const Reply& reply) {
    encode(reply, 0);
  }

  // Every error reply is encoded here, from the one struct (messages.hpp);
  // its result is its code + 1.
  void add(const error_reply& reply) {
    encode(reply, static_cast<uint8_t>(static_cast<uint8_t>(reply.error) + 1));
  }
  void add_error(uint64_t id, error_code code, std::string_view message) {
    add(error_reply{id, code, message});
  }
  // rate_limited carries when to retry.
  void add_rate_limited(uint64_t id, std::string_view message, uint64_t retry_after_ms) {
    add(error_reply{id, error_code::rate_limited, message, retry_after_ms});
  }

  // Frames encoded elsewhere (a cluster member's replies) with their results,
  // one byte each.
  void append_encoded(std::string_view frames, std::string_view results) {
    bytes_.append(frames);
    results_.insert(results_.end(), results.begin(), results.end());
  }

  std::string& bytes() { return bytes_; }
  const std::string& bytes() const { return bytes_; }
  size_t count() const { return results_.size(); }
  bool empty() const { return results_.empty(); }
  // Result of each frame, in order.
  const std::vector<uint8_t>& results() const { return results_; }
  std::string take() {
    results_.clear();
    return std::move(bytes_);
  }
  // Moves the frames to the end of `out` and empties this buffer. An empty
  // `out` trades buffers instead of copying: a connection that does this
  // every read reuses the same two allocations.
  void move_into(std::string& out) {
    if (out.empty())
      out.swap(bytes_);
    else
      out += bytes_;
    bytes_.clear();
    results_.clear();
  }

 private:
  struct appender {
    std::string& s;
    void write(const char* data, size_t n) { s.append(data, n); }
  };
  template <class Reply>
  void encode(const Reply& reply, uint8_t result) {
    results_.push_back(result);
    size_t start = bytes_.size();
    bytes_.append(frame_header_bytes, '\0');
    appender out{bytes_};
    msgpack::pack(out, reply);
    patch_header(start);
  }
  void patch_header(size_t start);

  std::string bytes_;
  std::vector<uint8_t> results_;
};

// A decoded reply, as the client library sees it.
struct reply_view {
  uint64_t id = 0;
  bool ok = false;
  std::string error;    // empty when ok
  std::string message;
  uint64_t retry_after_ms = 0;  // with rate_limited
  msgpack::object_handle body;  // the whole reply map, for typed access

  template <class Reply>
  Reply as() const {
    Reply r;
    body.get().convert(r);
    return r;
  }
};

// Decodes one reply frame body; throws std::runtime_error if it is not a reply map.
reply_view parse_reply(std::string_view body);

}  // namespace castellan::net
