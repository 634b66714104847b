// Routing and login orchestration. The router is not an actor: it runs on the
// front door's I/O threads, limiter shards and the password pool, and only
// ever sends (never waits), so it neither blocks CAF's scheduler nor is
// blocked by it.
#include "actors/router/session_router.hpp"

#include <exception>
#include <map>

#include <caf/send.hpp>
#include <caf/typed_actor.hpp>
#include <sodium.h>

#include <prometheus/counter.h>

#include "actors/runtime/fan_in.hpp"
#include "actors/sessions/revoke_user.hpp"
#include "actors/limiter/limiter_metrics.hpp"
#include "config/logging.hpp"
#include "config/password_hash.hpp"
#include "net/member_state.hpp"
#include "net/messages.hpp"
#include "net/owed_replies.hpp"
#include "net/wall_clock.hpp"

namespace castellan::actors {

namespace {

// The costliest argon2 parameters among the users' hashes (`fallback` if none).
config::argon2_params costliest(const config::users_table& users, config::argon2_params fallback) {
  config::argon2_params best{0, 0};
  for (auto& [name, u] : users.by_name)
    if (auto p = config::params_of(u.password_hash);
        p && uint64_t{p->memory_kib} * p->iterations > uint64_t{best.memory_kib} * best.iterations)
      best = *p;
  return best.memory_kib ? best : fallback;
}

// What a client whose login was shed is told (always `unavailable`: nothing
// was checked, nothing changed).
const char* shed_message(shed_reason why) {
  switch (why) {
    case shed_reason::queue_full:
    case shed_reason::wait:
    case shed_reason::stale:
      return "too many logins in progress; retry later";
    case shed_reason::abandoned:
      return "the connection closed before the login was checked";
    case shed_reason::stopping:
      break;
  }
  return "the node is stopping";
}

// Refuses a login that was shed: nothing checked, so `unavailable`, with
// when to retry if the pool knows.
void refuse_shed(const net::owed_ptr& owed, uint64_t request_id, shed_reason why,
                 uint64_t retry_after_ms) {
  owed->refuse({request_id}, shed_message(why),
               retry_after_ms ? std::optional<uint64_t>(retry_after_ms) : std::nullopt);
}

}  // namespace

session_router::session_router(std::vector<slot_ptr<session_shard>> shards,
                               std::shared_ptr<const net::keyring> keys, password_pool& pool,
                               std::shared_ptr<const config::users_table> users,
                               config::argon2_params default_params,
                               std::shared_ptr<event_stream> events,
                               std::shared_ptr<login_limits> limits,
                               std::shared_ptr<audit_health> audit,
                               actors::limiter_metrics* limiter_metrics, bool fault_injection,
                               bool populate)
    : shards_(std::move(shards)), keys_(std::move(keys)), pool_(pool), flights_(pool.metrics()),
      default_params_(default_params),
      events_(std::move(events)), limits_(std::move(limits)), audit_(std::move(audit)), limiter_metrics_(limiter_metrics),
      fault_injection_(fault_injection), populate_(populate) {
  set_users(std::move(users));
}

session_router::~session_router() = default;

void session_router::set_users(std::shared_ptr<const config::users_table> users) {
  auto params = costliest(*users, default_params_);
  if (!dummy_hash_.load() || params.memory_kib != dummy_params_.memory_kib ||
      params.iterations != dummy_params_.iterations) {
    dummy_params_ = params;
    dummy_hash_.store(std::make_shared<const std::string>(
        config::hash_password(config::random_password(), params)));
  }
  if (reader_)
    reader_->set_users(users);
  users_.store(std::move(users));
}

void session_router::answer_validates_from(std::vector<std::shared_ptr<session_table>> tables,
                                           std::shared_ptr<reader_epochs> epochs) {
  reader_ = std::make_unique<session_reader>(std::move(tables), std::move(epochs), users_.load());
}

bool session_router::validate_here(const net::session_op& op, int64_t now_ms,
                                   net::reply_buffer& out, uint8_t& result) {
  return reader_ && reader_->validate(op, now_ms, out, result);
}

void session_router::submit_session_ops(net::op_batch&& batch) {
  if (shards_.size() == 1) {
    caf::anon_send(shards_[0]->get(), session_batch{std::move(batch)});
    return;
  }
  // Split by owner. Every sub-batch keeps the whole owed list (shared_ptr
  // copies): cheaper than renumbering, and the shard only touches those used.
  std::vector<net::op_batch> by_shard(shards_.size());
  for (auto& op : batch.ops)
    by_shard[shard_index(op.key, shards_.size())].ops.push_back(op);
  for (size_t i = 0; i < by_shard.size(); ++i)
    if (!by_shard[i].ops.empty()) {
      by_shard[i].owed = batch.owed;
      caf::anon_send(shards_[i]->get(), session_batch{std::move(by_shard[i])});
    }
}

void session_router::debug_crash(const net::session_key& key, std::string target,
                                 net::owed_ptr owed) {
  uint64_t request_id = owed->first_id();
  if (!fault_injection_) {
    net::reply_buffer out;
    out.add_error(request_id, net::error_code::forbidden,
                  "fault injection is disabled (testing.fault_injection)");
    owed->deliver(std::move(out), {request_id});
    return;
  }
  caf::anon_send(shards_[shard_index(key, shards_.size())]->get(),
                 crash_request{key, std::move(target), request_id, std::move(owed)});
}

namespace {

// One shard's share of a debug_populate: the sessions it opened, and whether
// their records were made durable.
struct populate_count {
  uint64_t created = 0;
  bool ok = true;
};
using populate_join = fan_in<populate_count>;

// The client hears once, when every shard's share is in (fan_in.hpp); a
// share lost with its shard counts as a failure.
populate_join make_populate_join(net::owed_ptr client, uint64_t request_id) {
  return populate_join(
      {populate_count{}, populate_count{0, false},
       [](populate_count& total, populate_count&& share) {
         total.created += share.created;
         total.ok = total.ok && share.ok;
       }},
      [client = std::move(client), request_id](populate_count total) {
        net::reply_buffer out;
        if (!total.ok)
          out.add_error(request_id, net::error_code::unavailable, "some sessions could not be recorded");
        else
          out.add(net::debug_populate_reply{request_id, true, total.created});
        client->deliver(std::move(out), {request_id});
      });
}

// The reply sink a shard's share answers through (as owed replies): it reads
// the shard's debug_populate_reply, or the `unavailable` its owed replies
// sent for a share refused or lost, into the share's part.
class populate_share final : public net::reply_sink {
 public:
  explicit populate_share(populate_join::part part) : part_(std::move(part)) {}

  void deliver(std::string&& frames, size_t) override {
    populate_count share{0, false};
    try {
      auto scan = net::scan_frame(frames, uint32_t(1) << 20);
      auto reply = net::parse_reply(scan.body);
      share.ok = reply.ok;
      if (share.ok)
        share.created = reply.as<net::debug_populate_reply>().created;
    } catch (const std::exception&) {
      share.ok = false;
    }
    part_(share);
  }

 private:
  populate_join::part part_;
};

}  // namespace

void session_router::debug_populate(const net::session_key& key, uint64_t count,
                                    net::owed_ptr owed) {
  uint64_t request_id = owed->first_id();
  net::reply_buffer out;
  if (!populate_) {
    out.add_error(request_id, net::error_code::forbidden, "debug_populate is disabled (testing.populate)");
  } else if (count > 100000) {
    out.add_error(request_id, net::error_code::malformed, "count must be at most 100000 per request");
  } else if (!audit_->writable()) {
    out.add_error(request_id, net::error_code::unavailable, "audit log not writable");
  } else {
    // The admin's shard checks the role, then every shard opens its share.
    auto on_admin = [this, count, request_id, owed](user_ref user) {
      auto ring = keys_.load();
      std::vector<std::vector<net::session_key>> by_shard(shards_.size());
      for (uint64_t i = 0; i < count; ++i) {
        auto key = ring->mint(net::random_session_id()).key;
        by_shard[shard_index(key, shards_.size())].push_back(key);
      }
      auto join = make_populate_join(owed, request_id);
      for (size_t i = 0; i < shards_.size(); ++i)
        caf::anon_send(shards_[i]->get(),
                       populate_sessions{user, std::move(by_shard[i]),
                                         std::make_shared<net::owed_replies>(
                                             std::make_shared<populate_share>(join.add()),
                                             std::vector<net::owed_request>{
                                                 {0, net::op_kind::debug_populate}})});
      join.seal();
    };
    caf::anon_send(shards_[shard_index(key, shards_.size())]->get(),
                   populate_request{key, request_id, owed, std::move(on_admin)});
    return;
  }
  owed->deliver(std::move(out), {request_id});
}

void session_router::metrics_summary(uint64_t id, net::reply_buffer& out) const {
  auto summary = board_ ? board_->summary() : nullptr;
  net::metrics_summary_reply reply = summary ? *summary : net::metrics_summary_reply{};
  reply.id = id;
  out.add(reply);
}

net::node_health session_router::health() const {
  return {audit_->writable(), audit_->writable() ? std::string() : audit_->reason()};
}

void session_router::note_refused_tokens(const std::string& ip, uint64_t count) {
  auto e = events_->make(net::event_kind::token_refused);
  e.ip = ip;
  e.count = count;
  events_->publish({std::move(e)});
}

void session_router::submit_login(net::login_job&& job, net::owed_ptr owed) {
  // Fail closed before spending anything: a login that cannot be recorded
  // must not be granted.
  if (!audit_->writable()) {
    sodium_memzero(job.password.data(), job.password.size());
    owed->refuse({job.request_id}, "audit log not writable");
    return;
  }
  if (job.certificate) {
    login_by_certificate({std::move(job), std::move(owed)});
    return;
  }
  // An identical login in progress answers this one too: it costs no
  // allowance and no argon2 time of its own (login_flights.hpp).
  auto flight = flights_.digest_of(job);
  if (flights_.join(flight, job, owed))
    return;
  // Shed before the limiter: a login the password pool cannot take in time
  // costs neither a limiter round trip nor a unit of the user's allowance.
  if (auto refused = pool_.refuse_now()) {
    sodium_memzero(job.password.data(), job.password.size());
    refuse_shed(owed, job.request_id, refused->why, refused->retry_after_ms);
    return;
  }
  auto attempt = std::make_shared<login_attempt>();
  attempt->flight = flight;
  attempt->job = std::move(job);  // the password's buffer moves with it (not a copy: secret_string)
  auto generation = flights_.lead(flight, attempt->job, owed);
  if (!generation)
    return;  // an identical login took the lead meanwhile
  attempt->generation = *generation;
  ask_limiter(attempt);
}

// Asks every limiter shard that owns one of the login's keys; the last answer
// decides. Runs before any argon2 work, so a flood of bad logins costs none.
// The flight's logins share the user, the address and so the keys: the one
// answer is theirs too.
void session_router::ask_limiter(const attempt_ptr& attempt) {
  auto& job = attempt->job;
  limits_->check(job.user, job.ip, [this, attempt](const decision& d, key_kind by) {
    if (d.allowed && !d.failed) {
      check_password(attempt);
      return;
    }
    auto& password = attempt->job.password;
    sodium_memzero(password.data(), password.size());
    for (auto& login : flights_.land(attempt->flight, attempt->generation))
      refuse_by_limiter(login, d, by);
  });
}

// The limiter did not allow the login: it refused it, or could not decide
// (a limiter shard dropped the check: it crashed or stopped, or was full).
void session_router::refuse_by_limiter(const flight_login& login, const decision& d, key_kind by) {
  if (d.failed)
    login.owed->refuse({login.job.request_id}, d.full ? "rate limiter full; retry later"
                                                      : "rate limiter unavailable; retry");
  else
    refuse_rate_limited(login, d, by);
}

// A login proven by the connection's verified client certificate: the same
// limiter check and records as a password login, no argon2 (so no password
// pool and no single flight), and a token bound to that certificate.
void session_router::login_by_certificate(flight_login&& login) {
  auto shared = std::make_shared<flight_login>(std::move(login));
  limits_->check(shared->job.user, shared->job.ip, [this, shared](const decision& d, key_kind by) {
    if (d.allowed && !d.failed)
      finish_certificate_login(*shared);
    else
      refuse_by_limiter(*shared, d, by);
  });
}

void session_router::finish_certificate_login(const flight_login& login) {
  auto users = users_.load();
  const auto* record = users->find(login.job.user);
  bool proven = record && record->proven_by(login.job.certificate->names);
  settle_login(login, users, record, proven, "certificate not accepted for this user",
               "certificate_not_accepted", true);
}

// What a login whose proof was checked gets: a session, or the refusal that
// says why (a wrong proof and an unknown user look the same to the client).
void session_router::settle_login(const flight_login& login,
                                  const std::shared_ptr<const config::users_table>& users,
                                  const config::user_record* record, bool proven,
                                  const char* wrong_message, const char* wrong_reason, bool teach) {
  if (!record || !proven)
    refuse_login(login, net::error_code::bad_credentials, wrong_message,
                 record ? wrong_reason : "unknown_user", teach);
  else if (!record->enabled)
    refuse_login(login, net::error_code::forbidden, "user is disabled", "user_disabled", teach);
  else
    open_login(login, users, *record);
}

void session_router::refuse_rate_limited(const flight_login& login, const decision& d, key_kind by) {
  if (limiter_metrics_)
    limiter_metrics_->rejected[static_cast<size_t>(by)]->Increment();
  auto e = events_->make(net::event_kind::rate_limited);
  e.user = login.job.user;
  e.ip = login.job.ip;
  e.reason = d.locked ? std::string("lockout:") + to_string(by) : to_string(by);
  net::reply_buffer out;
  out.add_rate_limited(login.job.request_id, d.locked ? "locked out after repeated failures"
                                                      : "too many login attempts",
                       static_cast<uint64_t>(d.retry_after_ms));
  // Released once durable: a client told it is locked out can rely on the
  // lockout surviving a crash (its lockout_started record was appended
  // before, when the failure that started it was counted).
  events_->publish_durable({std::move(e)}, login.owed, std::move(out), {login.job.request_id});
}

void session_router::check_password(const attempt_ptr& attempt) {
  password_check check;
  check.run = [this, attempt] {
    try {
      finish_login(*attempt);
    } catch (const std::exception&) {
      // A pool thread must not die of one login (the node would stop). Each
      // login is answered once: one answered before makes this a no-op for
      // it. The message is not logged: it could quote a hash.
      spdlog::error("a login's password check threw; the login is answered unavailable");
      sodium_memzero(attempt->job.password.data(), attempt->job.password.size());
      for (auto& login : flights_.land(attempt->flight, attempt->generation))
        login.owed->refuse({login.job.request_id}, "the password check failed; retry");
    }
  };
  check.shed = [this, attempt](shed_reason why, uint64_t retry_after_ms) {
    sodium_memzero(attempt->job.password.data(), attempt->job.password.size());
    for (auto& login : flights_.land(attempt->flight, attempt->generation))
      refuse_shed(login.owed, login.job.request_id, why, retry_after_ms);
  };
  check.abandoned = [this, attempt] { return flights_.abandoned(attempt->flight, attempt->generation); };
  pool_.submit(std::move(check));
}

void session_router::refuse_login(const flight_login& login, net::error_code code,
                                  const char* message, const char* reason, bool teach) {
  auto e = events_->make(net::event_kind::login_failed);
  e.user = login.job.user;
  e.ip = login.job.ip;
  e.reason = reason;
  net::reply_buffer out;
  out.add_error(login.job.request_id, code, message);
  events_->publish_durable({std::move(e)}, login.owed, std::move(out), {login.job.request_id}, {},
                           teach);
}

// Runs on a password pool thread. The flight lands once the outcome is known:
// an identical login arriving after this starts its own checks.
void session_router::finish_login(login_attempt& attempt) {
  auto users = users_.load();
  auto dummy = dummy_hash_.load();
  const auto* record = users->find(attempt.job.user);
  auto& password = attempt.job.password;
  bool match = config::verify_password(password, record ? record->password_hash : *dummy);
  sodium_memzero(password.data(), password.size());
  // One check, one lesson: the limiter counts the flight's failure once (the
  // leader's), so identical guesses sent at once are one guess, and cannot
  // stack lockouts. Every login is still answered and recorded.
  auto logins = flights_.land(attempt.flight, attempt.generation);
  for (size_t i = 0; i < logins.size(); ++i)
    settle_login(logins[i], users, record, match, "wrong user or password", "bad_password", i == 0);
}

// Each login of a flight opens its own session.
void session_router::open_login(const flight_login& login,
                                const std::shared_ptr<const config::users_table>& users,
                                const config::user_record& record) {
  // The session is named by its token's MAC tag from here on; the id itself
  // leaves the node only inside the token.
  const auto* bound_to = login.job.certificate ? &login.job.certificate->digest : nullptr;
  auto minted = keys_.load()->mint(net::random_session_id(), bound_to);
  open_session msg{login.job.request_id, minted.key, std::move(minted.token),
                   user_ref(users, &record), login.job.ip, login.owed};
  if (place_open_ && place_open_(msg))
    return;
  open_here(std::move(msg));
}

void session_router::open_here(open_session&& msg) {
  auto shard = shards_[shard_index(msg.key, shards_.size())]->get();
  caf::anon_send(shard, std::move(msg));
}

void session_router::revoke_user(const net::session_key& caller, std::string user,
                                  net::owed_ptr owed) {
  run_revoke_user(*this, events_, caller, std::move(user), std::move(owed),
                  [this](const std::string& u, std::function<void(uint64_t, bool)> done) {
                    revoke_here(u, {}, std::move(done));
                  });
}

void session_router::revoke_here(const std::string& user,
                                 std::function<bool(const net::session_key&)> owned,
                                 std::function<void(uint64_t, bool)> done) {
  revoke_in_shards(shards_, events_, user, std::move(owned), std::move(done));
}

void session_router::cluster_status(uint64_t id, net::reply_buffer& out) const {
  net::cluster_status_reply reply;
  reply.id = id;
  auto summary = board_ ? board_->summary() : nullptr;
  net::member_status me;
  if (summary) {
    reply.node = summary->node;
    me.name = summary->node;
    me.ready = summary->ready;
    me.sessions = summary->sessions_active;
    for (auto& o : summary->ops)
      me.requests_per_s += o.rate_per_s;
  }
  me.state = net::to_string(net::member_state::up);
  me.self = true;
  me.last_heard_ms = net::wall_ms();
  reply.members.push_back(std::move(me));
  out.add(reply);
}

}  // namespace castellan::actors
