// The front door's backend: routes session ops to the shard that owns each
// session id (one message per shard per batch), and runs logins: password
// check on the password pool, then open_session on the owning shard.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "actors/password_pool.hpp"
#include "actors/session_shard.hpp"
#include "config/users_file.hpp"
#include "net/backend.hpp"

namespace castellan::actors {

class session_router final : public net::request_backend {
 public:
  // `pool` must outlive the router. `dummy_hash` is verified for unknown users
  // so that their logins cost as much as a wrong password (no user probing).
  session_router(std::vector<session_shard> shards, password_pool& pool,
                 std::shared_ptr<const config::users_table> users, std::string dummy_hash);
  ~session_router() override;

  void submit_session_ops(std::vector<net::session_op>&& ops,
                          const net::reply_sink_ptr& sink) override;
  void submit_login(net::login_job&& job, const net::reply_sink_ptr& sink) override;

  // Publishes a new users snapshot to logins (shards get their own message).
  void set_users(std::shared_ptr<const config::users_table> users);

 private:
  void finish_login(net::login_job& job, const net::reply_sink_ptr& sink);

  std::vector<session_shard> shards_;
  password_pool& pool_;
  std::atomic<std::shared_ptr<const config::users_table>> users_;
  std::string dummy_hash_;
};

}  // namespace castellan::actors
