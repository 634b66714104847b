// owed_replies; see owed_replies.hpp.
#include "net/owed_replies.hpp"

#include <algorithm>

namespace castellan::net {

owed_replies::owed_replies(reply_sink_ptr sink, std::vector<owed_request> owed, request_stats* stats,
                           clock::time_point received)
    : sink_(std::move(sink)), owed_(std::move(owed)), stats_(stats), received_(received) {
  if (!owed_.empty())
    first_id_ = owed_.front().id;
}

owed_replies::~owed_replies() { refuse_rest("the request was lost in a failing component; retry"); }

void owed_replies::settle(const std::vector<uint64_t>& ids, const std::vector<uint8_t>* results) {
  const uint8_t unavailable = result_of(error_code::unavailable);
  // Small lists (one connection's ops of one batch): a linear erase is fine.
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = std::find_if(owed_.begin(), owed_.end(),
                           [id = ids[i]](const owed_request& o) { return o.id == id; });
    if (it == owed_.end())
      continue;
    if (stats_)
      tally_.add(it->op, results && i < results->size() ? (*results)[i] : unavailable);
    *it = owed_.back();
    owed_.pop_back();
  }
  if (stats_ && !tally_.empty()) {
    stats_->record(tally_, std::chrono::duration_cast<std::chrono::nanoseconds>(
                               clock::now() - received_).count());
    tally_.clear();
  }
}

void owed_replies::send(reply_buffer&& out) { sink_->deliver_replies(std::move(out)); }

void owed_replies::send_unavailable(const std::vector<uint64_t>& ids, std::string_view why,
                                    std::optional<uint64_t> retry_after_ms) {
  reply_buffer out;
  for (auto id : ids)
    out.add(error_reply{id, error_code::unavailable, why, retry_after_ms});
  send(std::move(out));
}

void owed_replies::deliver(reply_buffer&& replies, const std::vector<uint64_t>& ids) {
  if (ids.empty())
    return;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    settle(ids, &replies.results());
  }
  send(std::move(replies));
}

void owed_replies::refuse(const std::vector<uint64_t>& ids, std::string_view why,
                          std::optional<uint64_t> retry_after_ms) {
  if (ids.empty())
    return;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    settle(ids, nullptr);
  }
  send_unavailable(ids, why, retry_after_ms);
}

void owed_replies::refuse_rest(std::string_view why) {
  std::vector<uint64_t> rest;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    for (auto& o : owed_)
      rest.push_back(o.id);
    settle(rest, nullptr);
  }
  if (!rest.empty() && sink_)
    send_unavailable(rest, why);
}

}  // namespace castellan::net
