// owed_replies; see owed_replies.hpp.
#include "net/owed_replies.hpp"

#include <algorithm>

namespace castellan::net {

owed_replies::owed_replies(reply_sink_ptr sink, std::vector<uint64_t> ids)
    : sink_(std::move(sink)), owed_(std::move(ids)) {}

owed_replies::~owed_replies() { refuse_rest("the request was lost in a failing component; retry"); }

void owed_replies::settle(const std::vector<uint64_t>& ids) {
  // Small lists (one connection's ops of one batch): a linear erase is fine.
  for (auto id : ids) {
    auto it = std::find(owed_.begin(), owed_.end(), id);
    if (it != owed_.end()) {
      *it = owed_.back();
      owed_.pop_back();
    }
  }
}

void owed_replies::deliver(std::string&& frames, const std::vector<uint64_t>& ids) {
  if (ids.empty())
    return;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    settle(ids);
  }
  sink_->deliver(std::move(frames), ids.size());
}

void owed_replies::refuse(const std::vector<uint64_t>& ids, std::string_view why) {
  if (ids.empty())
    return;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    settle(ids);
  }
  reply_buffer out;
  for (auto id : ids)
    out.add_error(id, error_code::unavailable, why);
  sink_->deliver(out.take(), ids.size());
}

void owed_replies::refuse_rest(std::string_view why) {
  std::vector<uint64_t> rest;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    rest.swap(owed_);
  }
  if (rest.empty() || !sink_)
    return;
  reply_buffer out;
  for (auto id : rest)
    out.add_error(id, error_code::unavailable, why);
  sink_->deliver(out.take(), rest.size());
}

}  // namespace castellan::net
