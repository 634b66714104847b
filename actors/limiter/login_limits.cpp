// The limiter as a login meets it; see login_limits.hpp.
#include "actors/limiter/login_limits.hpp"

#include <map>

#include <caf/send.hpp>
#include <caf/typed_actor.hpp>

namespace castellan::actors {
namespace {

// A login's keys split by where their bucket lives: local shards by index,
// other members by name.
struct key_owners {
  std::vector<std::vector<limit_key>> by_shard;
  std::map<std::string, std::vector<limit_key>> by_member;
};

key_owners owners_of(std::vector<limit_key> keys, size_t shards, const limiter_link* link) {
  key_owners out;
  out.by_shard.resize(shards);
  for (auto& k : keys) {
    if (auto owner = link ? link->limiter_owner(k) : std::string(); !owner.empty())
      out.by_member[owner].push_back(std::move(k));
    else
      out.by_shard[limiter_index(k, shards)].push_back(std::move(k));
  }
  return out;
}

}  // namespace

login_limits::login_limits(std::vector<slot_ptr<limiter_shard>> shards)
    : shards_(std::move(shards)) {}

std::vector<limit_key> login_limits::keys(const std::string& user, const std::string& ip) {
  std::vector<limit_key> keys{{key_kind::user, user}};
  if (!ip.empty()) {
    keys.push_back({key_kind::ip, ip});
    keys.push_back({key_kind::user_ip, user + "|" + ip});
  }
  return keys;
}

void login_limits::check(const std::string& user, const std::string& ip,
                         std::function<void(const decision&, key_kind)> done) {
  auto* link = link_.load();
  auto owners = owners_of(keys(user, ip), shards_.size(), link);
  auto join = make_limit_join(std::move(done));
  for (auto& [member, member_keys] : owners.by_member)
    link->check_remote(member, std::move(member_keys), join.add());
  for (size_t i = 0; i < owners.by_shard.size(); ++i)
    if (!owners.by_shard[i].empty())
      caf::anon_send(shards_[i]->get(), limit_check{std::move(owners.by_shard[i]), join.add()});
  join.seal();
}

void login_limits::learn(const std::vector<net::auth_event>& events) {
  if (shards_.empty())
    return;
  auto* link = link_.load();
  for (auto& e : events) {
    auto kind = e.type();
    bool success = kind == net::event_kind::login_ok;
    // A disabled user's failure says nothing about guessing: no lockout.
    bool failure = kind == net::event_kind::login_failed && e.reason != "user_disabled";
    if (!success && !failure)
      continue;
    auto owners = owners_of(keys(e.user, e.ip), shards_.size(), link);
    for (auto& [member, member_keys] : owners.by_member)
      link->teach_remote(member, limit_outcome{std::move(member_keys), success, e.user, e.ip});
    for (size_t i = 0; i < owners.by_shard.size(); ++i)
      if (!owners.by_shard[i].empty())
        caf::anon_send(shards_[i]->get(),
                       limit_outcome{std::move(owners.by_shard[i]), success, e.user, e.ip});
  }
}

}  // namespace castellan::actors
