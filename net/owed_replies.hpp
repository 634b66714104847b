// Replies owed to one connection, each answered exactly once. Whoever holds
// one answers some of the ids (deliver) or refuses them (refuse); when the
// last holder goes away, every id still owed is answered `unavailable`. A
// message that dies in the mailbox of an actor that crashed or stopped
// therefore still produces replies: a client is never left in silence.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "net/backend.hpp"

namespace castellan::net {

class owed_replies {
 public:
  owed_replies(reply_sink_ptr sink, std::vector<uint64_t> ids);
  ~owed_replies();
  owed_replies(const owed_replies&) = delete;
  owed_replies& operator=(const owed_replies&) = delete;

  // `frames` answers exactly `ids` (all still owed).
  void deliver(std::string&& frames, const std::vector<uint64_t>& ids);
  // Answers `ids` with `unavailable` and `why`.
  void refuse(const std::vector<uint64_t>& ids, std::string_view why);
  // Everything still owed, as `unavailable`.
  void refuse_rest(std::string_view why);

 private:
  void settle(const std::vector<uint64_t>& ids);

  std::mutex mutex_;
  reply_sink_ptr sink_;
  std::vector<uint64_t> owed_;
};

using owed_ptr = std::shared_ptr<owed_replies>;

}  // namespace castellan::net
