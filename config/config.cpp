// TOML -> node_settings. Every key is declared once in a binding table below,
// which drives parsing, unknown-key detection and range checks, so a key cannot
// be parsed without also being validated.
#include "config/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <vector>

#include <toml++/toml.h>

namespace castellan::config {
namespace {

// One bindable key: applies a TOML node to a field, or explains why it cannot.
struct binding {
  std::string section;
  std::string key;
  std::function<std::string(const toml::node&, node_settings&)> apply;  // "" = ok
};


template <class Field>
binding uint_binding(std::string section, std::string key, Field field, int64_t lo,
                     int64_t hi) {
  return {section, key, [field, lo, hi](const toml::node& n, node_settings& s) -> std::string {
            // Type first: value<int64_t>() would convert a float such as
            // 99E20 with undefined behaviour (found by fuzz_config).
            if (!n.is_integer())
              return "must be an integer";
            auto v = n.value<int64_t>();
            if (!v)
              return "must be an integer";
            if (*v < lo || *v > hi)
              return "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
            field(s) = static_cast<std::remove_reference_t<decltype(field(s))>>(*v);
            return "";
          }};
}

template <class Field>
binding string_binding(std::string section, std::string key, Field field,
                       std::vector<std::string> allowed = {}) {
  return {section, key, [field, allowed](const toml::node& n, node_settings& s) -> std::string {
            auto v = n.value<std::string>();
            if (!n.is_string() || !v)
              return "must be a string";
            if (!allowed.empty()) {
              bool found = false;
              std::string list;
              for (auto& a : allowed) {
                found = found || a == *v;
                list += (list.empty() ? "" : ", ") + a;
              }
              if (!found)
                return "must be one of: " + list;
            }
            field(s) = *v;
            return "";
          }};
}

template <class Field>
binding double_binding(std::string section, std::string key, Field field, double lo, double hi) {
  return {section, key, [field, lo, hi](const toml::node& n, node_settings& s) -> std::string {
            if (!n.is_number())
              return "must be a number";
            double v = *n.value<double>();
            if (!(v >= lo && v <= hi))
              return "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
            field(s) = v;
            return "";
          }};
}

template <class Field>
binding bool_binding(std::string section, std::string key, Field field) {
  return {section, key, [field](const toml::node& n, node_settings& s) -> std::string {
            if (!n.is_boolean())
              return "must be true or false";
            field(s) = *n.value<bool>();
            return "";
          }};
}

template <class Field>
binding string_list_binding(std::string section, std::string key, Field field) {
  return {section, key, [field](const toml::node& n, node_settings& s) -> std::string {
            auto* list = n.as_array();
            if (!list)
              return "must be an array of strings";
            std::vector<std::string> out;
            for (auto& item : *list) {
              auto v = item.value<std::string>();
              if (!item.is_string() || !v)
                return "must be an array of strings";
              out.push_back(*v);
            }
            field(s) = std::move(out);
            return "";
          }};
}

#define FIELD(path) [](node_settings& s) -> auto& { return s.path; }
#define POLICY(kind)                                                                          \
  double_binding("limiter." #kind, "rate_per_s", FIELD(limiter.kind.rate_per_s), 0.001, 1e9), \
      uint_binding("limiter." #kind, "burst", FIELD(limiter.kind.burst), 1, 1000000),         \
      uint_binding("limiter." #kind, "lockout_after", FIELD(limiter.kind.lockout_after), 0, 1000000), \
      uint_binding("limiter." #kind, "lockout_base_ms", FIELD(limiter.kind.lockout_base_ms), 1, u32), \
      uint_binding("limiter." #kind, "lockout_max_ms", FIELD(limiter.kind.lockout_max_ms), 1, u32)

const std::vector<binding>& bindings() {
  constexpr int64_t u32 = std::numeric_limits<uint32_t>::max();
  static const std::vector<binding> table = {
    string_binding("node", "name", FIELD(node.name)),
    string_binding("node", "data_dir", FIELD(node.data_dir)),
    string_binding("server", "host", FIELD(server.host)),
    uint_binding("server", "port", FIELD(server.port), 0, 65535),
    uint_binding("server", "io_threads", FIELD(server.io_threads), 1, 64),
    uint_binding("server", "max_connections", FIELD(server.max_connections), 1, 1000000),
    uint_binding("server", "max_frame_bytes", FIELD(server.max_frame_bytes), 64, 64 << 20),
    uint_binding("server", "idle_timeout_ms", FIELD(server.idle_timeout_ms), 100, u32),
    uint_binding("server", "drain_timeout_ms", FIELD(server.drain_timeout_ms), 100, 600000),
    uint_binding("server", "drain_quiet_ms", FIELD(server.drain_quiet_ms), 10, 600000),
    uint_binding("server", "max_inflight_per_connection",
                 FIELD(server.max_inflight_per_connection), 1, 1000000),
    uint_binding("server", "light_inflight", FIELD(server.light_inflight), 0, 1000000),
    uint_binding("server", "busy_reads_per_pass", FIELD(server.busy_reads_per_pass), 1, 1000000),
    uint_binding("server", "read_buffer_budget_bytes", FIELD(server.read_buffer_budget_bytes),
                 64, int64_t{1} << 40),
    string_binding("server.tls", "cert_file", FIELD(server.tls.cert_file)),
    string_binding("server.tls", "key_file", FIELD(server.tls.key_file)),
    string_binding("server.tls", "client_ca_file", FIELD(server.tls.client_ca_file)),
    string_binding("server.tls", "min_version", FIELD(server.tls.min_version), {"1.3", "1.2"}),
    uint_binding("server.tls", "handshake_timeout_ms", FIELD(server.tls.handshake_timeout_ms), 10,
                 600000),
    uint_binding("server.tls", "reload_interval_ms", FIELD(server.tls.reload_interval_ms), 100, u32),
    uint_binding("actors", "scheduler_threads", FIELD(actors.scheduler_threads), 1, 64),
    uint_binding("actors", "session_shards", FIELD(actors.session_shards), 1, 1024),
    string_binding("actors", "scheduler_policy", FIELD(actors.scheduler_policy),
                   {"sharing", "stealing"}),
    uint_binding("sessions", "ttl_s", FIELD(sessions.ttl_s), 1, u32),
    uint_binding("sessions", "max_lifetime_s", FIELD(sessions.max_lifetime_s), 1, u32),
    uint_binding("sessions", "sweep_interval_ms", FIELD(sessions.sweep_interval_ms), 10,
                 3600000),
    uint_binding("sessions", "max_sessions", FIELD(sessions.max_sessions), 1, 1000000000),
    string_binding("tokens", "key_file", FIELD(tokens.key_file)),
    uint_binding("tokens", "rotation_grace_s", FIELD(tokens.rotation_grace_s), 0, 86400 * 365),
    uint_binding("tokens", "reload_interval_ms", FIELD(tokens.reload_interval_ms), 10, 3600000),
    string_binding("users", "file", FIELD(users.file)),
    uint_binding("users", "reload_interval_ms", FIELD(users.reload_interval_ms), 100, u32),
    uint_binding("users", "argon2_memory_kib", FIELD(users.argon2_memory_kib), 8, 4 << 20),
    uint_binding("users", "argon2_iterations", FIELD(users.argon2_iterations), 1, 100),
    uint_binding("users", "password_threads", FIELD(users.password_threads), 1, 64),
    bool_binding("audit", "enabled", FIELD(audit.enabled)),
    string_binding("audit", "dir", FIELD(audit.dir)),
    uint_binding("audit", "segment_bytes", FIELD(audit.segment_bytes), 64 * 1024, int64_t{1} << 40),
    uint_binding("audit", "retain_segments", FIELD(audit.retain_segments), 0, 1000000),
    uint_binding("audit", "retain_days", FIELD(audit.retain_days), 0, 100000),
    bool_binding("snapshots", "enabled", FIELD(snapshots.enabled)),
    string_binding("snapshots", "dir", FIELD(snapshots.dir)),
    uint_binding("snapshots", "every_records", FIELD(snapshots.every_records), 1, int64_t{1} << 40),
    uint_binding("snapshots", "interval_s", FIELD(snapshots.interval_s), 1, 86400 * 7),
    uint_binding("snapshots", "keep", FIELD(snapshots.keep), 1, 100),
    uint_binding("limiter", "shards", FIELD(limiter.shards), 1, 1024),
    uint_binding("limiter", "max_keys", FIELD(limiter.max_keys), 100, 100000000),
    uint_binding("limiter", "sweep_interval_ms", FIELD(limiter.sweep_interval_ms), 10, 3600000),
    POLICY(user), POLICY(ip), POLICY(user_ip),
    uint_binding("users", "max_pending_logins", FIELD(users.max_pending_logins), 1, 1000000),
    uint_binding("users", "login_max_wait_ms", FIELD(users.login_max_wait_ms), 1, 600000),
    bool_binding("monitor", "enabled", FIELD(monitor.enabled)),
    string_binding("monitor", "host", FIELD(monitor.host)),
    uint_binding("monitor", "port", FIELD(monitor.port), 0, 65535),
    bool_binding("monitor", "request_metrics", FIELD(monitor.request_metrics)),
    uint_binding("monitor", "summary_interval_ms", FIELD(monitor.summary_interval_ms), 50, 600000),
    uint_binding("supervision", "max_restarts", FIELD(supervision.max_restarts), 1, 1000000),
    uint_binding("supervision", "period_ms", FIELD(supervision.period_ms), 1, u32),
    uint_binding("supervision", "root_max_restarts", FIELD(supervision.root_max_restarts), 1, 1000000),
    uint_binding("supervision", "root_period_ms", FIELD(supervision.root_period_ms), 1, u32),
    bool_binding("cluster", "enabled", FIELD(cluster.enabled)),
    string_binding("cluster", "host", FIELD(cluster.host)),
    uint_binding("cluster", "port", FIELD(cluster.port), 0, 65535),
    string_list_binding("cluster", "seeds", FIELD(cluster.seeds)),
    string_binding("cluster", "secret", FIELD(cluster.secret)),
    string_binding("cluster", "secret_file", FIELD(cluster.secret_file)),
    uint_binding("cluster", "replicas", FIELD(cluster.replicas), 1, 5),
    uint_binding("cluster", "heartbeat_interval_ms", FIELD(cluster.heartbeat_interval_ms), 10, 60000),
    uint_binding("cluster", "suspect_after_ms", FIELD(cluster.suspect_after_ms), 20, 600000),
    uint_binding("cluster", "down_after_ms", FIELD(cluster.down_after_ms), 30, 600000),
    uint_binding("cluster", "reconnect_interval_ms", FIELD(cluster.reconnect_interval_ms), 10, 600000),
    uint_binding("cluster", "request_timeout_ms", FIELD(cluster.request_timeout_ms), 10, 600000),
    uint_binding("cluster", "leave_timeout_ms", FIELD(cluster.leave_timeout_ms), 0, 600000),
    string_binding("cluster.tls", "cert_file", FIELD(cluster.tls.cert_file)),
    string_binding("cluster.tls", "key_file", FIELD(cluster.tls.key_file)),
    string_binding("cluster.tls", "ca_file", FIELD(cluster.tls.ca_file)),
    uint_binding("cluster.tls", "reload_interval_ms", FIELD(cluster.tls.reload_interval_ms), 100, u32),
    bool_binding("testing", "fault_injection", FIELD(testing.fault_injection)),
    bool_binding("testing", "populate", FIELD(testing.populate)),
    string_binding("log", "level", FIELD(log.level),
                   {"trace", "debug", "info", "warn", "error", "off"}),
  };
  return table;
}

#undef FIELD
#undef POLICY

[[noreturn]] void fail(const std::string& origin, const std::string& key, const std::string& why) {
  throw config_error(origin + ": " + key + ": " + why);
}

bool is_ip_address(const std::string& host) {
  in6_addr buf{};
  return ::inet_pton(AF_INET, host.c_str(), &buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), &buf) == 1;
}

bool split_host_port(const std::string& text, std::string& host, uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return false;
  host = text.substr(0, colon);
  try {
    size_t used = 0;
    auto p = std::stoul(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || p == 0 || p > 65535)
      return false;
    port = static_cast<uint16_t>(p);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

void check_cluster(const cluster_config& c, const std::string& origin) {
  if (!is_ip_address(c.host))
    fail(origin, "cluster.host", "must be an IP address (e.g. 127.0.0.1)");
  for (auto& seed : c.seeds) {
    std::string host;
    uint16_t port = 0;
    if (!split_host_port(seed, host, port))
      fail(origin, "cluster.seeds", "each seed must be \"host:port\" (got \"" + seed + "\")");
  }
  if (c.enabled && c.port == 0)
    fail(origin, "cluster.port", "must be set (peers and seeds name it) when the cluster is enabled");
  if (c.suspect_after_ms <= c.heartbeat_interval_ms)
    fail(origin, "cluster.suspect_after_ms", "must be more than cluster.heartbeat_interval_ms");
  if (c.down_after_ms <= c.suspect_after_ms)
    fail(origin, "cluster.down_after_ms", "must be more than cluster.suspect_after_ms");
  // One CA for the whole cluster: a member that presents a certificate
  // must also know which peers to accept, and the reverse.
  auto& tls = c.tls;
  if (tls.enabled() || !tls.key_file.empty() || !tls.ca_file.empty())
    for (auto [key, value] : {std::pair{"cert_file", &tls.cert_file}, {"key_file", &tls.key_file},
                              {"ca_file", &tls.ca_file}})
      if (value->empty())
        fail(origin, std::string("cluster.tls.") + key,
             "cluster.tls.cert_file, key_file and ca_file are set together (or none: no TLS "
             "between members)");
  // Never quote the secret itself in an error.
  if (c.enabled && c.secret_file.empty() && c.secret.size() < 16)
    fail(origin, "cluster.secret", "must be at least 16 bytes when the cluster is enabled "
                                   "(or set cluster.secret_file)");
}

void check_cross_field(const node_settings& s, const std::string& origin) {
  if (!is_ip_address(s.server.host))
    fail(origin, "server.host", "must be an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1)");
  if (!is_ip_address(s.monitor.host))
    fail(origin, "monitor.host", "must be an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1)");
  // The largest frame must fit in the budget, or it could never arrive.
  if (s.server.read_buffer_budget_bytes < s.server.max_frame_bytes)
    fail(origin, "server.read_buffer_budget_bytes", "must be at least server.max_frame_bytes");
  auto& tls = s.server.tls;
  if (tls.cert_file.empty() != tls.key_file.empty())
    fail(origin, tls.cert_file.empty() ? "server.tls.cert_file" : "server.tls.key_file",
         "server.tls.cert_file and server.tls.key_file are set together (or neither: no TLS)");
  if (!tls.client_ca_file.empty() && !tls.enabled())
    fail(origin, "server.tls.client_ca_file", "needs server.tls.cert_file and key_file (mutual TLS is TLS)");
  if (s.sessions.max_lifetime_s < s.sessions.ttl_s)
    fail(origin, "sessions.max_lifetime_s", "must be at least sessions.ttl_s");
  if (s.node.name.empty())
    fail(origin, "node.name", "must not be empty");
  if (s.node.data_dir.empty())
    fail(origin, "node.data_dir", "must not be empty");
  check_cluster(s.cluster, origin);
  if (s.cluster.enabled && s.server.port == 0)
    fail(origin, "server.port", "must be set when the cluster is enabled (members tell each other)");
}

std::string resolve(const std::string& configured, const std::string& data_dir,
                    const char* file_name) {
  if (!configured.empty())
    return configured;
  return (std::filesystem::path(data_dir) / file_name).string();
}

bool known_section(const std::string& section) {
  for (auto& b : bindings())
    if (b.section == section || b.section.rfind(section + ".", 0) == 0)
      return true;
  return false;
}

// Applies every key of `table` (a section named `section`; "" = the root),
// descending into sub-tables such as [limiter.user].
void walk_section(const toml::table& table, const std::string& section, node_settings& s,
                  const std::string& origin) {
  for (auto& [key, value] : table) {
    std::string name{key.str()};
    std::string path = section.empty() ? name : section + "." + name;
    if (value.is_table()) {
      if (!known_section(path))
        fail(origin, path, "unknown section");
      walk_section(*value.as_table(), path, s, origin);
      continue;
    }
    if (section.empty())
      fail(origin, path, known_section(path) ? "must be a table" : "unknown section");
    const binding* match = nullptr;
    for (auto& b : bindings())
      if (b.section == section && b.key == name)
        match = &b;
    if (!match)
      fail(origin, path, "unknown key");
    if (auto why = match->apply(value, s); !why.empty())
      fail(origin, path, why);
  }
}

}  // namespace

std::string node_settings::audit_dir() const {
  return audit.dir.empty() ? (std::filesystem::path(node.data_dir) / "audit").string() : audit.dir;
}

std::string node_settings::snapshot_dir() const {
  return snapshots.dir.empty() ? (std::filesystem::path(node.data_dir) / "snapshots").string()
                               : snapshots.dir;
}

bool is_loopback_address(const std::string& host) {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

bool parse_host_port(const std::string& text, std::string& host, uint16_t& port) {
  return split_host_port(text, host, port);
}

std::string node_settings::cluster_secret() const {
  if (cluster.secret_file.empty())
    return cluster.secret;
  std::ifstream in(cluster.secret_file, std::ios::binary);
  if (!in)
    throw config_error(cluster.secret_file + ": cannot read the cluster secret file");
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r'))
    secret.pop_back();
  if (secret.size() < 16)
    throw config_error(cluster.secret_file + ": the cluster secret must be at least 16 bytes");
  return secret;
}

std::string node_settings::users_file() const {
  return resolve(users.file, node.data_dir, "users.toml");
}

std::string node_settings::key_file() const {
  return resolve(tokens.key_file, node.data_dir, "keys.json");
}

node_settings parse(const std::string& toml_text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << origin << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    throw config_error(out.str());
  }
  node_settings s;
  walk_section(root, "", s, origin);
  check_cross_field(s, origin);
  return s;
}

namespace {

bool same_policy(const limit_policy_config& a, const limit_policy_config& b) {
  return a.rate_per_s == b.rate_per_s && a.burst == b.burst && a.lockout_after == b.lockout_after &&
         a.lockout_base_ms == b.lockout_base_ms && a.lockout_max_ms == b.lockout_max_ms;
}

// A section rendered as text: equal text, equal section (keeps this list
// from going stale when a key is added).
std::string section_text(const std::string& toml, const std::string& section) {
  auto start = toml.find("[" + section + "]\n");
  if (start == std::string::npos)
    return "";
  auto end = toml.find("\n[", start + 1);
  return toml.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Every top-level table render_toml writes, in its order: a section added
// there is compared without anyone having to remember to list it here.
std::vector<std::string> rendered_sections(const std::string& toml) {
  std::vector<std::string> out;
  for (size_t at = 0; (at = toml.find('[', at)) != std::string::npos; ++at) {
    if (at > 0 && toml[at - 1] != '\n')
      continue;  // a value such as `seeds = [...]`, not a header
    auto name = toml.substr(at + 1, toml.find(']', at) - at - 1);
    if (name.find('.') == std::string::npos)  // [limiter.user] belongs to [limiter]
      out.push_back(std::move(name));
  }
  return out;
}

}  // namespace

bool differs(const limiter_config& a, const limiter_config& b) {
  return a.shards != b.shards || a.max_keys != b.max_keys ||
         a.sweep_interval_ms != b.sweep_interval_ms || !same_policy(a.user, b.user) ||
         !same_policy(a.ip, b.ip) || !same_policy(a.user_ip, b.user_ip);
}

std::vector<std::string> changed_sections(const node_settings& a, const node_settings& b) {
  auto ta = render_toml(a), tb = render_toml(b);
  std::vector<std::string> out;
  for (auto& s : rendered_sections(ta))
    if (s != "limiter" && s != "log" && section_text(ta, s) != section_text(tb, s))
      out.push_back(s);
  return out;
}

node_settings load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw config_error(path + ": cannot open config file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

std::string render_policy(const char* kind, const limit_policy_config& p) {
  std::ostringstream out;
  out << "[limiter." << kind << "]\nrate_per_s = " << p.rate_per_s << "\nburst = " << p.burst
      << "\nlockout_after = " << p.lockout_after << "\nlockout_base_ms = " << p.lockout_base_ms
      << "\nlockout_max_ms = " << p.lockout_max_ms << "\n\n";
  return out.str();
}

std::string render_cluster(const cluster_config& c) {
  std::ostringstream out;
  out << "[cluster]\nenabled = " << (c.enabled ? "true" : "false") << "\nhost = \"" << c.host
      << "\"\nport = " << c.port << "\nseeds = [";
  for (size_t i = 0; i < c.seeds.size(); ++i)
    out << (i ? ", " : "") << '"' << c.seeds[i] << '"';
  out << "]\nsecret = \"" << c.secret << "\"\nsecret_file = \"" << c.secret_file
      << "\"\nreplicas = " << c.replicas << "\nheartbeat_interval_ms = " << c.heartbeat_interval_ms
      << "\nsuspect_after_ms = " << c.suspect_after_ms << "\ndown_after_ms = " << c.down_after_ms
      << "\nreconnect_interval_ms = " << c.reconnect_interval_ms
      << "\nrequest_timeout_ms = " << c.request_timeout_ms
      << "\nleave_timeout_ms = " << c.leave_timeout_ms << "\n\n"
      << "[cluster.tls]\ncert_file = \"" << c.tls.cert_file << "\"  # empty: no TLS between members\n"
      << "key_file = \"" << c.tls.key_file << "\"\nca_file = \"" << c.tls.ca_file
      << "\"  # the cluster's one CA\nreload_interval_ms = " << c.tls.reload_interval_ms << "\n\n";
  return out.str();
}

std::string default_toml() { return render_toml(node_settings{}); }

std::string render_toml(const node_settings& d) {
  std::ostringstream out;
  out << "# Castellan node configuration: every key shown with its default.\n"
      << "# See docs/configuration.md for what each key does.\n\n"
      << "[node]\nname = \"" << d.node.name << "\"\ndata_dir = \"" << d.node.data_dir << "\"\n\n"
      << "[server]\nhost = \"" << d.server.host << "\"\nport = " << d.server.port
      << "\nio_threads = " << d.server.io_threads
      << "\nmax_connections = " << d.server.max_connections
      << "\nmax_frame_bytes = " << d.server.max_frame_bytes
      << "\nidle_timeout_ms = " << d.server.idle_timeout_ms
      << "\nmax_inflight_per_connection = " << d.server.max_inflight_per_connection
      << "\nlight_inflight = " << d.server.light_inflight
      << "\nbusy_reads_per_pass = " << d.server.busy_reads_per_pass
      << "\nread_buffer_budget_bytes = " << d.server.read_buffer_budget_bytes << "\n"
      << "\ndrain_timeout_ms = " << d.server.drain_timeout_ms
      << "\ndrain_quiet_ms = " << d.server.drain_quiet_ms << "\n\n"
      << "[server.tls]\ncert_file = \"" << d.server.tls.cert_file << "\"  # empty: no TLS\nkey_file = \""
      << d.server.tls.key_file << "\"\nclient_ca_file = \"" << d.server.tls.client_ca_file
      << "\"  # set: mutual TLS\nmin_version = \"" << d.server.tls.min_version
      << "\"\nhandshake_timeout_ms = " << d.server.tls.handshake_timeout_ms
      << "\nreload_interval_ms = " << d.server.tls.reload_interval_ms << "\n\n"
      << "[actors]\nscheduler_threads = " << d.actors.scheduler_threads
      << "\nsession_shards = " << d.actors.session_shards << "\nscheduler_policy = \""
      << d.actors.scheduler_policy << "\"\n\n"
      << "[sessions]\nttl_s = " << d.sessions.ttl_s
      << "\nmax_lifetime_s = " << d.sessions.max_lifetime_s
      << "\nsweep_interval_ms = " << d.sessions.sweep_interval_ms
      << "\nmax_sessions = " << d.sessions.max_sessions << "\n\n"
      << "[tokens]\nkey_file = \"" << d.tokens.key_file << "\"  # empty: <data_dir>/keys.json\n"
      << "rotation_grace_s = " << d.tokens.rotation_grace_s
      << "\nreload_interval_ms = " << d.tokens.reload_interval_ms << "\n\n"
      << "[users]\nfile = \"" << d.users.file << "\"  # empty: <data_dir>/users.toml\nreload_interval_ms = "
      << d.users.reload_interval_ms << "\nargon2_memory_kib = " << d.users.argon2_memory_kib
      << "\nargon2_iterations = " << d.users.argon2_iterations
      << "\npassword_threads = " << d.users.password_threads
      << "\nmax_pending_logins = " << d.users.max_pending_logins
      << "\nlogin_max_wait_ms = " << d.users.login_max_wait_ms << "\n\n"
      << "[audit]\nenabled = " << (d.audit.enabled ? "true" : "false")
      << "\ndir = \"" << d.audit.dir << "\"  # empty: <data_dir>/audit\nsegment_bytes = " << d.audit.segment_bytes
      << "\nretain_segments = " << d.audit.retain_segments
      << "\nretain_days = " << d.audit.retain_days << "\n\n"
      << "[snapshots]\nenabled = " << (d.snapshots.enabled ? "true" : "false") << "\ndir = \""
      << d.snapshots.dir << "\"  # empty: <data_dir>/snapshots\nevery_records = "
      << d.snapshots.every_records << "\ninterval_s = " << d.snapshots.interval_s
      << "\nkeep = " << d.snapshots.keep << "\n\n"
      << "[limiter]\nshards = " << d.limiter.shards << "\nmax_keys = " << d.limiter.max_keys
      << "\nsweep_interval_ms = " << d.limiter.sweep_interval_ms << "\n\n"
      << render_policy("user", d.limiter.user) << render_policy("ip", d.limiter.ip)
      << render_policy("user_ip", d.limiter.user_ip)
      << "[monitor]\nenabled = " << (d.monitor.enabled ? "true" : "false") << "\nhost = \""
      << d.monitor.host << "\"\nport = " << d.monitor.port
      << "\nrequest_metrics = " << (d.monitor.request_metrics ? "true" : "false")
      << "\nsummary_interval_ms = " << d.monitor.summary_interval_ms << "\n\n"
      << "[supervision]\nmax_restarts = " << d.supervision.max_restarts
      << "\nperiod_ms = " << d.supervision.period_ms
      << "\nroot_max_restarts = " << d.supervision.root_max_restarts
      << "\nroot_period_ms = " << d.supervision.root_period_ms << "\n\n"
      << render_cluster(d.cluster)
      << "[testing]\nfault_injection = " << (d.testing.fault_injection ? "true" : "false")
      << "\npopulate = " << (d.testing.populate ? "true" : "false") << "\n\n"
      << "[log]\nlevel = \"" << d.log.level << "\"\n";
  return out.str();
}

}  // namespace castellan::config
