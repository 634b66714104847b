// Looks a session up the way a client's validate would, through a backend
// (so in a cluster it reaches the session's owner), and hands the reply to a
// callback instead of a socket. Ops that act on behalf of a session (the
// caller of revoke_user) check who is calling with it.
#pragma once

#include <functional>

#include "net/backend.hpp"
#include "net/token.hpp"

namespace castellan::actors {

// `done` runs once, on whatever thread answers, with the validate reply
// (ok: user, roles, expiry) or the error (invalid_token, expired, unavailable).
void lookup_session(net::request_backend& backend, const net::session_key& key,
                    std::function<void(const net::reply_view&)> done);

}  // namespace castellan::actors
