// revoke_user; see revoke_user.hpp.
#include "actors/sessions/revoke_user.hpp"

#include <algorithm>

#include "actors/audit/event_stream.hpp"
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
