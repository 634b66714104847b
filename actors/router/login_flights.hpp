// Single flight for identical logins: logins in progress at once with the
// same user, source address and password share one limiter check and one
// password check (the idea of Go's singleflight). A gateway that opens 100
// sessions for its service user at start-up costs one argon2 check, not 100,
// so it is neither shed by the password pool's admission nor refused by the
// limiter for having more than `burst` attempts in flight. Each login still
// gets its own reply, its own event and, on success, its own session.
//
// Nothing is given away: a login joins a flight only by presenting the
// password of an attempt the limiter has already counted, and it hears that
// attempt's outcome. Logins are matched by a keyed BLAKE2b digest of (user,
// ip, password) under a key drawn at start-up, so the table holds no password.
// Memory: one entry per login in progress, as for any request in flight
// (bounded by server.max_connections x server.max_inflight_per_connection).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "actors/router/login_metrics.hpp"
#include "net/backend.hpp"
#include "net/owed_replies.hpp"

namespace castellan::actors {

// One login of a flight: the request without its password, and its replies.
struct flight_login {
  net::login_job job;  // password always empty
  net::owed_ptr owed;
};

class login_flights {
 public:
  using digest = std::array<unsigned char, 32>;

  // Draws the digest key. `metrics` (may be null) counts the logins that
  // joined a flight; it must outlive this object.
  explicit login_flights(login_metrics* metrics = nullptr);
  login_flights(const login_flights&) = delete;
  login_flights& operator=(const login_flights&) = delete;

  // The keyed digest that names `job`'s flight.
  digest digest_of(const net::login_job& job) const;

  // Joins the flight named `d` if one is in the air (true); `job`'s password
  // is zeroed either way once it has joined.
  bool join(const digest& d, net::login_job& job, const net::owed_ptr& owed);

  // Opens the flight `d` with `job` as its first login (true; the caller
  // keeps the password for the check). False if another login opened it
  // meanwhile: then `job` joined that flight instead, as by join().
  bool lead(const digest& d, net::login_job& job, const net::owed_ptr& owed);

  // Closes the flight and hands over its logins, the leader first. A login
  // arriving later starts a new flight.
  std::vector<flight_login> land(const digest& d);

  // True when every login of the flight has lost its connection.
  bool abandoned(const digest& d) const;

 private:
  struct digest_hash {
    size_t operator()(const digest& d) const;
  };

  std::array<unsigned char, 32> key_{};
  mutable std::mutex mutex_;
  std::unordered_map<digest, std::vector<flight_login>, digest_hash> flights_;
  login_metrics* metrics_;
};

}  // namespace castellan::actors
