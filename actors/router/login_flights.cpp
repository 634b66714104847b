// Single flight for identical logins; see login_flights.hpp.
#include "actors/router/login_flights.hpp"

#include <cstring>

#include <prometheus/counter.h>
#include <sodium.h>

namespace castellan::actors {

login_flights::login_flights(login_metrics* metrics) : metrics_(metrics) {
  crypto_generichash_keygen(key_.data());
}

size_t login_flights::digest_hash::operator()(const digest& d) const {
  size_t h;
  std::memcpy(&h, d.data(), sizeof h);  // already a keyed hash: any 8 bytes will do
  return h;
}

login_flights::digest login_flights::digest_of(const net::login_job& job) const {
  // Each field with its length first, so no two different logins encode alike.
  digest out{};
  crypto_generichash_state state;
  crypto_generichash_init(&state, key_.data(), key_.size(), out.size());
  for (const std::string* field : {&job.user, &job.ip, &job.password}) {
    uint64_t size = field->size();
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(&size), sizeof size);
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(field->data()),
                              field->size());
  }
  crypto_generichash_final(&state, out.data(), out.size());
  sodium_memzero(&state, sizeof state);
  return out;
}

bool login_flights::join(const digest& d, net::login_job& job, const net::owed_ptr& owed) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    auto it = flights_.find(d);
    if (it == flights_.end())
      return false;
    sodium_memzero(job.password.data(), job.password.size());
    it->second.logins.push_back({net::login_job{job.request_id, job.user, {}, job.ip, nullptr}, owed});
  }
  if (metrics_ && metrics_->joined)
    metrics_->joined->Increment();
  return true;
}

std::optional<uint64_t> login_flights::lead(const digest& d, net::login_job& job,
                                            const net::owed_ptr& owed) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    auto [it, opened] = flights_.try_emplace(d);
    it->second.logins.push_back({net::login_job{job.request_id, job.user, {}, job.ip, nullptr}, owed});
    if (opened) {
      it->second.generation = next_generation_++;
      return it->second.generation;
    }
    sodium_memzero(job.password.data(), job.password.size());
  }
  if (metrics_ && metrics_->joined)
    metrics_->joined->Increment();
  return std::nullopt;
}

std::vector<flight_login> login_flights::land(const digest& d, uint64_t generation) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = flights_.find(d);
  if (it == flights_.end() || it->second.generation != generation)
    return {};
  auto logins = std::move(it->second.logins);
  flights_.erase(it);
  return logins;
}

bool login_flights::abandoned(const digest& d, uint64_t generation) const {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = flights_.find(d);
  if (it == flights_.end() || it->second.generation != generation)
    return false;
  for (auto& login : it->second.logins)
    if (!login.owed->abandoned())
      return false;
  return true;
}

}  // namespace castellan::actors
