// Validates answered where they were read; see session_reader.hpp.
#include "actors/sessions/session_reader.hpp"

#include "actors/sessions/session_shard.hpp"
#include "net/messages.hpp"
#include "net/request_stats.hpp"

namespace castellan::actors {

// A numbered snapshot's records by number (null where it holds none).
struct session_reader::users_by_number {
  explicit users_by_number(std::shared_ptr<const config::users_table> snapshot)
      : users(std::move(snapshot)) {
    for (auto& [name, record] : users->by_name) {
      if (record.id == 0)
        continue;  // not numbered: no session can name it
      if (record.id >= by_id.size())
        by_id.resize(record.id + 1, nullptr);
      by_id[record.id] = &record;
    }
  }
  const config::user_record* find(uint32_t id) const {
    return id < by_id.size() ? by_id[id] : nullptr;
  }
  std::shared_ptr<const config::users_table> users;
  std::vector<const config::user_record*> by_id;
};

session_reader::session_reader(std::vector<std::shared_ptr<session_table>> tables,
                               std::shared_ptr<reader_epochs> epochs,
                               std::shared_ptr<const config::users_table> users)
    : tables_(std::move(tables)), epochs_(std::move(epochs)) {
  set_users(std::move(users));
}

// Readers have stopped by now (the front door stops before the router goes).
session_reader::~session_reader() {
  delete users_.load();
  for (auto& r : retired_)
    delete r.users;
}

void session_reader::set_users(std::shared_ptr<const config::users_table> users) {
  auto fresh = std::make_unique<const users_by_number>(std::move(users));
  std::lock_guard<std::mutex> guard(retire_mutex_);
  retired_.reserve(retired_.size() + 1);
  if (const auto* old = users_.exchange(fresh.release()))  // sequentially consistent: see reader_epochs
    retired_.push_back({old, epochs_->advance()});
  for (auto it = retired_.begin(); it != retired_.end();)
    if (epochs_->all_past(it->epoch)) {
      delete it->users;
      it = retired_.erase(it);
    } else {
      ++it;
    }
}

bool session_reader::validate(const net::session_op& op, int64_t now_ms, net::reply_buffer& out,
                              uint8_t& result) {
  auto r = epochs_->this_thread_reader();
  if (!r)
    return false;
  reader_epochs::inside visit(*epochs_, *r);
  auto found = tables_[shard_index(op.key, tables_.size())]->index().find_inside(op.key);
  if (!found) {
    out.add_error(op.request_id, net::error_code::invalid_token, "no such session");
    result = net::result_of(net::error_code::invalid_token);
    return true;
  }
  if (found->expires_ms <= now_ms) {
    out.add_error(op.request_id, net::error_code::expired, "session expired");
    result = net::result_of(net::error_code::expired);
    return true;
  }
  const auto* user = users_.load()->find(found->user);
  if (!user || !user->enabled)
    return false;  // its end is on the way to the shard (apply_users)
  out.add(net::validate_reply{op.request_id, true, user->name, user->roles, found->expires_ms});
  result = net::result_ok;
  return true;
}

}  // namespace castellan::actors
