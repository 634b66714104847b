// The front door's backend: routes session ops to the shard that owns each
// session id (one message per shard per batch), and runs logins:
//   audit writable? -> limiter shards (every key of the login) -> password
//   pool (argon2id) -> open_session on the owning shard, or a failure reply
//   released once its event is durable.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "actors/audit_writer.hpp"
#include "actors/event_stream.hpp"
#include "actors/password_pool.hpp"
#include "actors/session_shard.hpp"
#include "config/password_hash.hpp"
#include "config/users_file.hpp"
#include "net/backend.hpp"

namespace castellan::actors {

class session_router final : public net::request_backend {
 public:
  // `pool` must outlive the router. Unknown users are checked against a dummy
  // hash with the costliest parameters of the users file, so that their logins
  // cost as much as a wrong password (no probing for user names by timing).
  session_router(std::vector<slot_ptr<session_shard>> shards, password_pool& pool,
                 std::shared_ptr<const config::users_table> users,
                 config::argon2_params default_params, std::shared_ptr<event_stream> events,
                 std::shared_ptr<audit_health> audit,
                 monitor::limiter_metrics* limiter_metrics = nullptr, bool fault_injection = false);
  ~session_router() override;

  void submit_session_ops(net::op_batch&& batch) override;
  void submit_login(net::login_job&& job, const net::reply_sink_ptr& sink) override;
  void note_refused_tokens(const std::string& ip, uint64_t count) override;
  net::node_health health() const override;
  void debug_crash(const net::session_id& sid, std::string target, uint64_t request_id,
                   const net::reply_sink_ptr& sink) override;

  // Publishes a new users snapshot to logins (shards get their own message).
  // May hash a new dummy: call it off CAF's scheduler (the user directory).
  void set_users(std::shared_ptr<const config::users_table> users);
  std::shared_ptr<const config::users_table> users() const { return users_.load(); }

 private:
  using job_ptr = std::shared_ptr<net::login_job>;
  void ask_limiter(const job_ptr& job, const net::reply_sink_ptr& sink);
  void check_password(const job_ptr& job, const net::reply_sink_ptr& sink);
  void finish_login(net::login_job& job, const net::reply_sink_ptr& sink);
  void refuse_login(net::login_job& job, const net::reply_sink_ptr& sink, net::error_code code,
                    const char* message, const char* reason);

  std::vector<slot_ptr<session_shard>> shards_;
  password_pool& pool_;
  std::atomic<std::shared_ptr<const config::users_table>> users_;
  config::argon2_params default_params_;
  config::argon2_params dummy_params_{};
  std::atomic<std::shared_ptr<const std::string>> dummy_hash_;
  std::shared_ptr<event_stream> events_;
  std::shared_ptr<audit_health> audit_;
  monitor::limiter_metrics* limiter_metrics_;
  bool fault_injection_;
};

}  // namespace castellan::actors
