// Gives every user name a number of its own for the life of the process, so
// that a session can name its user in 4 bytes (the session index,
// actors/sessions/session_index.hpp) and a reader on any thread can find the
// user's name and roles by that number in the newest snapshot.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "config/users_file.hpp"

namespace castellan::actors {

class user_numbers {
 public:
  // `users` with each record's id set (a name keeps its number across
  // reloads, even after a reload without it), as the snapshot to share.
  std::shared_ptr<const config::users_table> number(config::users_table users);

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, uint32_t> ids_;  // name -> number, from 1
};

}  // namespace castellan::actors
