// session_projection and replay; see session_projection.hpp.
#include "actors/recovery/session_projection.hpp"

#include <algorithm>

#include <msgpack.hpp>

#include "actors/storage/audit_reader.hpp"
#include "net/bounded_unpack.hpp"
#include "net/token.hpp"

namespace castellan::actors {

session_projection::session_projection(snapshot_image image) : position_(image.log_position) {
  users_ = std::move(image.users);
  for (uint32_t i = 0; i < users_.size(); ++i)
    user_ids_.emplace(users_[i], i);
  sessions_.reserve(image.sessions.size());
  for (auto& s : image.sessions)
    sessions_.emplace(s.key, session_state{s.user, s.created_ms, s.expires_ms});
  for (auto& l : image.lockouts)
    lockouts_[{l.kind, std::move(l.user), std::move(l.ip)}] = {l.until_ms, std::max(1u, l.level)};
  for (auto& t : image.tombstones)
    ended_.emplace(t.key, t.until_ms);
  if (position_ == 0)
    position_ = 1;
}

uint32_t session_projection::user_index(const std::string& name) {
  auto [it, added] = user_ids_.emplace(name, static_cast<uint32_t>(users_.size()));
  if (added)
    users_.push_back(name);
  return it->second;
}

// A logout's record says how long its end must be remembered (its
// session's expiry); a record without it takes the session's expiry here.
void session_projection::end_session(const session_key& key, int64_t until_ms) {
  if (auto it = sessions_.find(key); it != sessions_.end()) {
    until_ms = std::max(until_ms, it->second.expires_ms);
    sessions_.erase(it);
  }
  if (until_ms > 0) {
    auto& until = ended_[key];
    until = std::max(until, until_ms);
  }
}

void session_projection::end_sessions_of(const std::string& user) {
  auto it = user_ids_.find(user);
  if (it == user_ids_.end())
    return;
  std::erase_if(sessions_, [id = it->second](const auto& s) { return s.second.user == id; });
}

namespace {

// The limiter key of a lockout event (see limiter_shard.cpp: the event names
// the user, the IP, or both, by the key's kind).
bool lockout_of(const net::auth_event& e, session_projection::lockout_id& out) {
  if (e.reason == "user")
    out = {0, e.user, ""};
  else if (e.reason == "ip")
    out = {1, "", e.ip};
  else if (e.reason == "user_ip")
    out = {2, e.user, e.ip};
  else
    return false;
  return true;
}

}  // namespace

void session_projection::apply(uint64_t index, const net::auth_event& e) {
  if (index < position_)
    return;
  position_ = index + 1;
  switch (e.type()) {
    case net::event_kind::login_ok:
      // An end beats any live copy (session_table's merge rule): a hand-over
      // of a stale copy recorded after the logout brings nothing back.
      if (auto key = net::session_key_from_digest(e.session); key && !ended_.count(*key))
        sessions_[*key] = {user_index(e.user), e.time_ms, e.until_ms};
      return;
    case net::event_kind::refresh:
      if (auto key = net::session_key_from_digest(e.session))
        if (auto it = sessions_.find(*key); it != sessions_.end())
          it->second.expires_ms = e.until_ms;
      return;
    case net::event_kind::logout:
      if (auto key = net::session_key_from_digest(e.session))
        end_session(*key, e.until_ms);
      return;
    case net::event_kind::session_expired:
      if (auto key = net::session_key_from_digest(e.session))
        sessions_.erase(*key);
      return;
    case net::event_kind::user_changed:
      // The shards ended these sessions without a record per session.
      if (e.reason == "removed" || e.reason == "disabled")
        end_sessions_of(e.user);
      return;
    case net::event_kind::lockout_started: {
      lockout_id id;
      if (lockout_of(e, id)) {
        // One still in force when this started makes this the next level of
        // backoff. One already over has ended, recorded or not: image() left
        // it out from then on, so a snapshot and a full replay agree.
        auto& l = lockouts_[id];
        l.level = l.until_ms > e.time_ms ? l.level + 1 : 1;
        l.until_ms = e.until_ms;
      }
      return;
    }
    case net::event_kind::lockout_ended: {
      lockout_id id;
      if (lockout_of(e, id))
        lockouts_.erase(id);
      return;
    }
    default:
      return;
  }
}

snapshot_image session_projection::image(int64_t now_ms) const {
  snapshot_image out;
  out.log_position = position_;
  out.users = users_;
  out.sessions.reserve(sessions_.size());
  for (auto& [key, s] : sessions_)
    if (s.expires_ms > now_ms)
      out.sessions.push_back({key, s.user, s.created_ms, s.expires_ms});
  for (auto& [id, l] : lockouts_)
    if (l.until_ms > now_ms)
      out.lockouts.push_back({std::get<0>(id), std::get<1>(id), std::get<2>(id), l.until_ms, l.level});
  for (auto& [key, until] : ended_)
    if (until > now_ms)
      out.tombstones.push_back({key, until});
  return out;
}

session_projection replay(const std::string& snapshot_dir, const std::string& audit_dir,
                          uint64_t until_index, replay_report& report) {
  auto loaded = load_latest_snapshot(snapshot_dir);
  report.damaged = loaded.damaged;
  session_projection p;
  if (loaded.image) {
    report.snapshot_file = loaded.file;
    report.snapshot_sessions = loaded.image->sessions.size();
    report.snapshot_position = loaded.image->log_position;
    p = session_projection(std::move(*loaded.image));
  }
  auto segments = list_segments(audit_dir);
  // Skip whole segments that end before the snapshot's position: the next
  // segment starts at or before it.
  size_t first = 0;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    auto next_first = segment_first_index(segments[i + 1]);
    if (next_first && *next_first <= p.position())
      first = i + 1;
    else
      break;
  }
  msgpack::zone zone;
  for (size_t i = first; i < segments.size(); ++i) {
    std::string problem;
    replay_segment(segments[i], [&](uint64_t index, std::string_view body, const std::string&,
                                    uint64_t) {
      if (index < p.position() || (until_index && index >= until_index))
        return;
      net::auth_event e;
      try {
        zone.clear();
        net::unpack_bounded(zone, body.data(), body.size()).convert(e);
      } catch (const std::exception&) {
        ++report.undecodable;
        return;
      }
      p.apply(index, e);
      ++report.records_replayed;
    }, problem);
    // The newest segment ends where the writer stopped; a torn tail there was
    // cut when the log was opened. Anywhere else a problem is damage.
    if (!problem.empty() && i + 1 < segments.size())
      report.log_problems.push_back(problem);
    if (until_index && p.position() >= until_index)
      break;
  }
  return p;
}

}  // namespace castellan::actors
