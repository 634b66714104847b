// Replies owed to one connection, each answered exactly once. Whoever holds
// one answers some of the ids (deliver) or refuses them (refuse); when the
// last holder goes away, every id still owed is answered `unavailable`. A
// message that dies in the mailbox of an actor that crashed or stopped
// therefore still produces replies: a client is never left in silence.
//
// Every reply that leaves through here is also counted by op and result,
// with the time since the request was read (request_stats), so the counts
// cover exactly what clients were told.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "net/backend.hpp"
#include "net/request_stats.hpp"

namespace castellan::net {

struct owed_request {
  uint64_t id = 0;
  op_kind op = op_kind::validate;
};

class owed_replies {
 public:
  using clock = std::chrono::steady_clock;

  // `stats` may be null (request metrics off); `received` is when the
  // requests were read from the socket.
  owed_replies(reply_sink_ptr sink, std::vector<owed_request> owed, request_stats* stats = nullptr,
               clock::time_point received = clock::now());
  ~owed_replies();
  owed_replies(const owed_replies&) = delete;
  owed_replies& operator=(const owed_replies&) = delete;

  // `replies` answers exactly `ids`, in order (all still owed).
  void deliver(reply_buffer&& replies, const std::vector<uint64_t>& ids);
  // Answers `ids` with `unavailable` and `why`, and when to retry if known.
  void refuse(const std::vector<uint64_t>& ids, std::string_view why,
              std::optional<uint64_t> retry_after_ms = std::nullopt);
  // Everything still owed, as `unavailable`.
  void refuse_rest(std::string_view why);
  // Nobody reads the replies any more (the connection closed).
  bool abandoned() const { return sink_ && sink_->abandoned(); }
  // The id this was created with first (for a single owed request).
  uint64_t first_id() const { return first_id_; }

 private:
  // Removes `ids` from what is owed; tallies each with the result at the
  // same position of `results` (or `unavailable` when null).
  void settle(const std::vector<uint64_t>& ids, const std::vector<uint8_t>* results);
  void send(reply_buffer&& out);
  void send_unavailable(const std::vector<uint64_t>& ids, std::string_view why,
                        std::optional<uint64_t> retry_after_ms = std::nullopt);

  std::mutex mutex_;
  reply_sink_ptr sink_;
  std::vector<owed_request> owed_;
  request_stats* stats_;
  clock::time_point received_;
  request_tally tally_;  // guarded by mutex_; scratch for one settle
  uint64_t first_id_ = 0;
};

using owed_ptr = std::shared_ptr<owed_replies>;

// One owed request: the common case of a login or an admin op.
inline owed_ptr owe_one(reply_sink_ptr sink, uint64_t id, op_kind op, request_stats* stats,
                        owed_replies::clock::time_point received) {
  return std::make_shared<owed_replies>(std::move(sink), std::vector<owed_request>{{id, op}}, stats,
                                        received);
}

}  // namespace castellan::net
