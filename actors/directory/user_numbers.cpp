// Numbers for user names; see user_numbers.hpp.
#include "actors/directory/user_numbers.hpp"

namespace castellan::actors {

std::shared_ptr<const config::users_table> user_numbers::number(config::users_table users) {
  std::lock_guard<std::mutex> guard(mutex_);
  for (auto& [name, record] : users.by_name) {
    auto [it, added] = ids_.try_emplace(name, static_cast<uint32_t>(ids_.size() + 1));
    record.id = it->second;
  }
  return std::make_shared<const config::users_table>(std::move(users));
}

}  // namespace castellan::actors
