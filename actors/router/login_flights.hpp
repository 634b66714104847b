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
#include <optional>
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

  // Opens the flight `d` with `job` as its first login and returns the
  // flight's generation (the caller keeps the password for the check).
  // Nothing if another login opened it meanwhile: then `job` joined that
  // flight instead, as by join().
  std::optional<uint64_t> lead(const digest& d, net::login_job& job, const net::owed_ptr& owed);

  // Closes the flight `d` of `generation` and hands over its logins, the
  // leader first; nothing if that flight has landed already (a later
  // identical flight is never closed by an earlier one's leader). A login
  // arriving later starts a new flight.
  std::vector<flight_login> land(const digest& d, uint64_t generation);

  // True when every login of that flight has lost its connection.
  bool abandoned(const digest& d, uint64_t generation) const;

 private:
  struct digest_hash {
    size_t operator()(const digest& d) const;
  };

  std::array<unsigned char, 32> key_{};
  mutable std::mutex mutex_;
  struct flight {
    uint64_t generation = 0;
    std::vector<flight_login> logins;
  };
  std::unordered_map<digest, flight, digest_hash> flights_;
  uint64_t next_generation_ = 1;
  login_metrics* metrics_;
};

}  // namespace castellan::actors
