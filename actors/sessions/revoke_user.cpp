// revoke_user; see revoke_user.hpp.
#include "actors/sessions/revoke_user.hpp"

#include <algorithm>

#include <caf/send.hpp>
#include <caf/typed_actor.hpp>

#include "actors/audit/event_stream.hpp"
#include "actors/sessions/session_table.hpp"
#include "net/messages.hpp"
#include "net/owed_replies.hpp"
#include "net/utf8.hpp"
#include "actors/sessions/session_lookup.hpp"

namespace castellan::actors {

revoke_join make_revoke_join(std::function<void(uint64_t, bool)> done) {
  return revoke_join({revoke_count{}, revoke_count{0, false},
                      [](revoke_count& total, revoke_count&& part) {
                        total.ended += part.ended;
                        total.ok = total.ok && part.ok;
                      }},
                     [done = std::move(done)](revoke_count total) { done(total.ended, total.ok); });
}

namespace {

struct revoke_shares {
  std::vector<revoke_share> shares;
  bool complete = true;
};

// Every share recorded in one append, then each settled into its table.
void record_shares(event_stream& events, revoke_shares all, std::function<void(uint64_t, bool)> done) {
  if (!all.complete) {
    done(0, false);  // a share is missing: recording the rest would end part of the user
    return;
  }
  std::vector<net::auth_event> records;
  for (auto& s : all.shares)
    records.insert(records.end(), s.records.begin(), s.records.end());
  if (records.empty()) {
    done(0, true);
    return;
  }
  // Counted as found (live, the user's) rather than as applied: in a
  // cluster another holder's end of the same session may be applied here
  // first, and the session is still this revoke's to count.
  auto count = make_revoke_join(std::move(done));
  for (auto& s : all.shares)
    s.writes->done = [part = revoke_part(count), found = s.records.size()](uint64_t, bool durable) {
      part(durable ? found : 0, durable);
    };
  count.seal();
  events.publish_durable(std::move(records), [shares = std::move(all.shares)](bool durable) {
    for (auto& s : shares)
      s.table->inbox().settle(s.writes, durable);
  });
}

}  // namespace

void revoke_in_shards(const std::vector<slot_ptr<session_shard>>& shards,
                      std::shared_ptr<event_stream> events, const std::string& user,
                      std::function<bool(const net::session_key&)> owned,
                      std::function<void(uint64_t, bool)> done) {
  revoke_share lost;
  lost.lost = true;
  fan_in<revoke_share, revoke_shares> gather(
      {revoke_shares{}, lost,
       [](revoke_shares& all, revoke_share&& s) {
         all.complete = all.complete && !s.lost;
         if (!s.lost && !s.records.empty())
           all.shares.push_back(std::move(s));
       }},
      [events, done = std::move(done)](revoke_shares all) mutable {
        record_shares(*events, std::move(all), std::move(done));
      });
  for (auto& shard : shards)
    caf::anon_send(shard->get(), revoke_sessions{user, owned, [part = gather.add()](revoke_share s) {
                                                   part(std::move(s));
                                                 }});
  gather.seal();
}

void run_revoke_user(net::request_backend& backend, std::shared_ptr<event_stream> events,
                     const net::session_key& caller, std::string user, net::owed_ptr owed,
                     revoke_spread spread) {
  uint64_t id = owed->first_id();
  actors::lookup_session(backend, caller, [=](const net::reply_view& who) {
    net::reply_buffer out;
    if (!who.ok) {
      auto code = net::error_code_from_string(who.error).value_or(net::error_code::unavailable);
      out.add_error(id, code, who.message);
      owed->deliver(std::move(out), {id});
      return;
    }
    auto caller_session = who.as<net::validate_reply>();
    bool admin = std::find(caller_session.roles.begin(), caller_session.roles.end(), "admin") !=
                 caller_session.roles.end();
    if (!admin && caller_session.user != user) {
      out.add_error(id, net::error_code::forbidden, "revoke_user needs the admin role, or your own user");
      owed->deliver(std::move(out), {id});
      return;
    }
    spread(user, [=, by = caller_session.user](uint64_t count, bool ok) {
      if (!ok) {
        owed->refuse({id}, "not every session could be ended durably everywhere; retry");
        return;
      }
      auto e = events->make(net::event_kind::sessions_revoked);
      e.user = user;
      e.reason = "by=" + by;
      e.count = count;
      net::reply_buffer done;
      // `user` is the client's bytes: no such user exists unless they are
      // UTF-8, but the reply echoes them either way.
      done.add(net::revoke_user_reply{id, true, net::utf8_safe(user), count});
      events->publish_durable({std::move(e)}, owed, std::move(done), {id});
    });
  });
}

}  // namespace castellan::actors
