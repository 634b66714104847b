// Routing and login orchestration. The router is not an actor: it runs on the
// front door's I/O threads and the password pool, and only ever sends (never
// waits), so neither blocks CAF's scheduler nor is blocked by it.
#include "actors/session_router.hpp"

#include <caf/send.hpp>
#include <caf/typed_actor.hpp>
#include <sodium.h>

#include "actors/caf_types.hpp"
#include "config/password_hash.hpp"

namespace castellan::actors {

session_router::session_router(std::vector<session_shard> shards, password_pool& pool,
                               std::shared_ptr<const config::users_table> users,
                               std::string dummy_hash)
    : shards_(std::move(shards)), pool_(pool), users_(std::move(users)),
      dummy_hash_(std::move(dummy_hash)) {}

session_router::~session_router() = default;

void session_router::set_users(std::shared_ptr<const config::users_table> users) {
  users_.store(std::move(users));
}

void session_router::submit_session_ops(std::vector<net::session_op>&& ops,
                                        const net::reply_sink_ptr& sink) {
  if (shards_.size() == 1) {
    caf::anon_send(shards_[0], session_batch{std::move(ops), sink});
    return;
  }
  // Split by owner; most reads carry ops for few shards, so keep it simple.
  std::vector<std::vector<net::session_op>> by_shard(shards_.size());
  for (auto& op : ops)
    by_shard[shard_index(op.sid, shards_.size())].push_back(op);
  for (size_t i = 0; i < by_shard.size(); ++i)
    if (!by_shard[i].empty())
      caf::anon_send(shards_[i], session_batch{std::move(by_shard[i]), sink});
}

void session_router::submit_login(net::login_job&& job, const net::reply_sink_ptr& sink) {
  auto shared_job = std::make_shared<net::login_job>(std::move(job));
  bool queued = pool_.submit([this, shared_job, sink] { finish_login(*shared_job, sink); });
  if (!queued) {
    net::reply_buffer out;
    out.add_error(shared_job->request_id, net::error_code::unavailable,
                  "too many logins in progress; retry later");
    sodium_memzero(shared_job->password.data(), shared_job->password.size());
    sink->deliver(out.take(), 1);
  }
}

// Runs on a password pool thread.
void session_router::finish_login(net::login_job& job, const net::reply_sink_ptr& sink) {
  auto users = users_.load();
  const auto* record = users->find(job.user);
  bool match = config::verify_password(job.password, record ? record->password_hash : dummy_hash_);
  sodium_memzero(job.password.data(), job.password.size());
  net::reply_buffer out;
  if (!record || !match) {
    out.add_error(job.request_id, net::error_code::bad_credentials, "wrong user or password");
    sink->deliver(out.take(), 1);
    return;
  }
  if (!record->enabled) {
    out.add_error(job.request_id, net::error_code::forbidden, "user is disabled");
    sink->deliver(out.take(), 1);
    return;
  }
  auto sid = net::random_session_id();
  auto& shard = shards_[shard_index(sid, shards_.size())];
  caf::anon_send(shard, open_session{job.request_id, sid, user_ref(users, record), sink});
}

}  // namespace castellan::actors
