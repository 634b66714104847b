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

#include "actors/audit/audit_writer.hpp"
#include "actors/audit/event_stream.hpp"
#include "actors/limiter/login_limits.hpp"
#include "actors/router/login_flights.hpp"
#include "actors/router/password_pool.hpp"
#include "actors/sessions/session_reader.hpp"
#include "actors/sessions/session_shard.hpp"
#include "config/password_hash.hpp"
#include "config/users_file.hpp"
#include "monitor/status_board.hpp"
#include "net/backend.hpp"
#include "net/owed_replies.hpp"

namespace castellan::actors {

class session_router final : public net::request_backend {
 public:
  // `pool` must outlive the router. Unknown users are checked against a dummy
  // hash with the costliest parameters of the users file, so that their logins
  // cost as much as a wrong password (no probing for user names by timing).
  session_router(std::vector<slot_ptr<session_shard>> shards,
                 std::shared_ptr<const net::keyring> keys, password_pool& pool,
                 std::shared_ptr<const config::users_table> users,
                 config::argon2_params default_params, std::shared_ptr<event_stream> events,
                 std::shared_ptr<login_limits> limits, std::shared_ptr<audit_health> audit,
                 actors::limiter_metrics* limiter_metrics = nullptr, bool fault_injection = false,
                 bool populate = false);
  ~session_router() override;

  void submit_session_ops(net::op_batch&& batch) override;
  bool validate_here(const net::session_op& op, int64_t now_ms, net::reply_buffer& out,
                     uint8_t& result) override;
  void submit_login(net::login_job&& job, net::owed_ptr owed) override;
  void note_refused_tokens(const std::string& ip, uint64_t count) override;
  net::node_health health() const override;
  void metrics_summary(uint64_t id, net::reply_buffer& out) const override;
  void debug_crash(const net::session_key& key, std::string target, net::owed_ptr owed) override;
  void debug_populate(const net::session_key& key, uint64_t count, net::owed_ptr owed) override;
  void cluster_status(uint64_t id, net::reply_buffer& out) const override;
  void revoke_user(const net::session_key& caller, std::string user, net::owed_ptr owed) override;

  // Ends `user`'s sessions on this node's shards that `owned` accepts (all
  // when empty); done(count, durable everywhere).
  void revoke_here(const std::string& user, std::function<bool(const net::session_key&)> owned,
                   std::function<void(uint64_t, bool)> done);

  // Cluster: decides where a new session opens. Returns true when it took
  // the message (the session's owner is another member); otherwise the
  // router opens it on its own shard. Set before traffic.
  void set_open_placement(std::function<bool(open_session&)> place) { place_open_ = std::move(place); }

  // Opens a session on this node's shard (the cluster's owner side).
  void open_here(open_session&& msg);

  // A node outside any cluster: validates are answered by the I/O thread
  // that read them, from `tables`' indexes (session_reader.hpp). Set before
  // traffic; `epochs` is the one the tables were built with.
  void answer_validates_from(std::vector<std::shared_ptr<session_table>> tables,
                             std::shared_ptr<reader_epochs> epochs);

  // New token keys: logins from now on are signed with `keys`' primary.
  void set_keys(std::shared_ptr<const net::keyring> keys) { keys_.store(std::move(keys)); }

  // Where op `metrics_summary` reads the monitor's latest summary.
  void set_status_board(std::shared_ptr<const monitor::status_board> board) {
    board_ = std::move(board);
  }

  // Publishes a new users snapshot to logins (shards get their own message).
  // May hash a new dummy: call it off CAF's scheduler (the user directory).
  void set_users(std::shared_ptr<const config::users_table> users);
  std::shared_ptr<const config::users_table> users() const { return users_.load(); }
  const std::shared_ptr<event_stream>& events() const { return events_; }

 private:
  // The login a flight's checks are made for (its leader's, with the
  // password), and the flight whose logins hear the outcome.
  struct login_attempt {
    net::login_job job;
    login_flights::digest flight;
    uint64_t generation = 0;
  };
  using attempt_ptr = std::shared_ptr<login_attempt>;
  void ask_limiter(const attempt_ptr& attempt);
  void login_by_certificate(flight_login&& login);
  void finish_certificate_login(const flight_login& login);
  void check_password(const attempt_ptr& attempt);
  void finish_login(login_attempt& attempt);
  void refuse_by_limiter(const flight_login& login, const decision& d, key_kind by);
  void refuse_rate_limited(const flight_login& login, const decision& d, key_kind by);
  void settle_login(const flight_login& login, const std::shared_ptr<const config::users_table>& users,
                    const config::user_record* record, bool proven, const char* wrong_message,
                    const char* wrong_reason, bool teach);
  void refuse_login(const flight_login& login, net::error_code code, const char* message,
                    const char* reason, bool teach);
  void open_login(const flight_login& login, const std::shared_ptr<const config::users_table>& users,
                  const config::user_record& record);

  std::vector<slot_ptr<session_shard>> shards_;
  std::atomic<std::shared_ptr<const net::keyring>> keys_;
  password_pool& pool_;
  login_flights flights_;
  std::atomic<std::shared_ptr<const config::users_table>> users_;
  config::argon2_params default_params_;
  config::argon2_params dummy_params_{};
  std::atomic<std::shared_ptr<const std::string>> dummy_hash_;
  std::shared_ptr<event_stream> events_;
  std::shared_ptr<login_limits> limits_;
  std::shared_ptr<audit_health> audit_;
  actors::limiter_metrics* limiter_metrics_;
  bool fault_injection_;
  bool populate_;
  std::shared_ptr<const monitor::status_board> board_;
  std::function<bool(open_session&)> place_open_;
  std::unique_ptr<session_reader> reader_;  // null: every validate goes to its shard
};

}  // namespace castellan::actors
