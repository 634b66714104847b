// Rendering of `authctl status`; see status.hpp.
#include "tools/authctl/status.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

namespace castellan::authctl {
namespace {

std::string duration_text(int64_t ms) {
  int64_t s = ms / 1000;
  char buf[64];
  if (s >= 86400)
    std::snprintf(buf, sizeof buf, "%lldd %02lldh%02lldm", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600), static_cast<long long>(s % 3600 / 60));
  else
    std::snprintf(buf, sizeof buf, "%02lldh%02lldm%02llds", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60), static_cast<long long>(s % 60));
  return buf;
}

template <class T>
T field(const nlohmann::json& j, const char* key, T fallback) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : it->get<T>();
}

}  // namespace

void print_status(const nlohmann::json& s) {
  bool ready = field(s, "ready", false);
  std::printf("node %s: %s, up %s\n", field<std::string>(s, "node", "?").c_str(),
              ready ? "ready" : "NOT READY", duration_text(field<int64_t>(s, "uptime_ms", 0)).c_str());
  if (auto it = s.find("not_ready"); it != s.end())
    for (auto& why : *it)
      std::printf("  not ready: %s\n", why.get<std::string>().c_str());
  std::printf("sessions %llu, connections %llu, audit %s (queue %llu), limiter rejections %llu, "
              "lockouts %llu\n",
              static_cast<unsigned long long>(field<uint64_t>(s, "sessions_active", 0)),
              static_cast<unsigned long long>(field<uint64_t>(s, "connections_open", 0)),
              field(s, "audit_writable", false) ? "writable" : "NOT WRITABLE",
              static_cast<unsigned long long>(field<uint64_t>(s, "audit_queue_depth", 0)),
              static_cast<unsigned long long>(field<uint64_t>(s, "limiter_rejections", 0)),
              static_cast<unsigned long long>(field<uint64_t>(s, "lockouts", 0)));
  std::printf("\nrequests (rates over the last %.1f s):\n", field(s, "interval_s", 0.0));
  std::printf("  %-16s %12s %10s %7s %9s %9s\n", "op", "total", "per s", "err %", "p50 ms", "p99 ms");
  for (auto& o : s.value("ops", nlohmann::json::array()))
    std::printf("  %-16s %12llu %10.1f %7.2f %9.3f %9.3f\n", field<std::string>(o, "op", "?").c_str(),
                static_cast<unsigned long long>(field<uint64_t>(o, "total", 0)),
                field(o, "rate_per_s", 0.0), 100 * field(o, "error_ratio", 0.0),
                field(o, "p50_ms", 0.0), field(o, "p99_ms", 0.0));
  std::printf("\nactors:\n  %-20s %9s %9s\n", "kind", "restarts", "mailbox");
  for (auto& a : s.value("actors", nlohmann::json::array()))
    std::printf("  %-20s %9llu %9llu\n", field<std::string>(a, "kind", "?").c_str(),
                static_cast<unsigned long long>(field<uint64_t>(a, "restarts", 0)),
                static_cast<unsigned long long>(field<uint64_t>(a, "mailbox_depth", 0)));
}

void print_cluster_status(const nlohmann::json& s) {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::printf("node %s: %s, %llu copies of each session\n", s.value("node", "").c_str(),
              s.value("clustered", false) ? "cluster member" : "not in a cluster",
              static_cast<unsigned long long>(s.value("replicas", 1)));
  std::printf("%-14s %-9s %-21s %-21s %10s %10s %9s %8s\n", "member", "state", "cluster",
              "client", "heard", "req/s", "sessions", "restarts");
  for (auto& m : s.value("members", nlohmann::json::array())) {
    int64_t heard = m.value("last_heard_ms", int64_t{0});
    std::string ago = heard ? std::to_string(std::max<int64_t>(0, now - heard)) + " ms" : "never";
    std::string name = m.value("name", "") + (m.value("self", false) ? " *" : "");
    std::printf("%-14s %-9s %-21s %-21s %10s %10.0f %9llu %8llu\n", name.c_str(),
                m.value("state", "").c_str(), m.value("address", "").c_str(),
                m.value("client", "").c_str(), ago.c_str(), m.value("requests_per_s", 0.0),
                static_cast<unsigned long long>(m.value("sessions", 0)),
                static_cast<unsigned long long>(m.value("restarts", 0)));
  }
}

}  // namespace castellan::authctl
