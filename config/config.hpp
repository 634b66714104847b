// Castellan's configuration: plain structs, one per component, each field with
// its default and what it costs. config.cpp fills them from one TOML file and
// validates every key once at start-up; components receive only their section.
// docs/configuration.md lists exactly these fields.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace castellan::config {

// [node]: who this node is and where it keeps its files.
struct node_config {
  std::string name = "node1";            // Names the node in logs and health.
  std::string data_dir = "castellan-data";  // Holds users file and key file unless overridden.
};

// [server.tls]: TLS on the client port (docs/operations.md, "Certificates").
// Off while cert_file is empty; the files are re-read on SIGHUP and when
// they change, so a renewed certificate needs no restart.
struct tls_config {
  std::string cert_file;                 // PEM: the node's certificate (and chain).
  std::string key_file;                  // PEM: its private key (mode 0600).
  // PEM: the CAs whose client certificates are accepted. Set: every client
  // must present a certificate from one of them (mutual TLS).
  std::string client_ca_file;
  std::string min_version = "1.3";       // "1.3" or "1.2".
  uint32_t handshake_timeout_ms = 10000; // A client that has not finished its handshake by then is closed.
  uint32_t reload_interval_ms = 2000;    // How often the files' mtimes are checked.
  bool enabled() const { return !cert_file.empty(); }
};

// [server]: the client-facing TCP listener (the front door).
struct server_config {
  std::string host = "127.0.0.1";        // Listen address.
  uint16_t port = 7400;                  // 0 picks a free port (tests read it back).
  uint32_t io_threads = 1;               // Asio threads; on 2 vCPUs more threads raise p99.
  uint32_t max_connections = 10000;      // Further accepts are closed at once.
  uint32_t max_frame_bytes = 65536;      // Largest accepted frame body; larger gets too_large.
  uint32_t idle_timeout_ms = 300000;     // A connection with no traffic this long is closed.
  uint32_t max_inflight_per_connection = 4096;  // Reading pauses past this many pending replies.
  // A connection with more than this many requests in flight is busy: its
  // next read waits for a pass of the read pump, busy_reads_per_pass busy
  // connections at a time, so light ones are read first (0: no pump).
  uint32_t light_inflight = 4;
  uint32_t busy_reads_per_pass = 8;
  // Bytes all connections' read buffers may hold beyond their fixed 4 KiB
  // (partial frames, larger batches); a frame that needs more is refused.
  uint64_t read_buffer_budget_bytes = 64ull << 20;
  uint32_t drain_timeout_ms = 3000;      // Stopping: longest wait for connections to answer and close.
  // Stopping: a connection on which nothing arrived for this long after the
  // notice is taken to have stopped sending (a half-close says so at once).
  uint32_t drain_quiet_ms = 100;
  tls_config tls;
};

// [actors]: the CAF runtime.
struct actors_config {
  uint32_t scheduler_threads = 1;        // CAF worker threads; see docs/architecture.md.
  uint32_t session_shards = 4;           // Session shard actors; sessions split by id.
  std::string scheduler_policy = "sharing";  // "sharing" (wakes at once) or "stealing".
};

// [sessions]: lifetime of a session.
struct sessions_config {
  uint32_t ttl_s = 1800;                 // Idle lifetime; refresh slides it.
  uint32_t max_lifetime_s = 43200;       // Absolute cap from login, refresh cannot pass it.
  uint32_t sweep_interval_ms = 1000;     // How often each shard drops expired sessions.
  uint32_t max_sessions = 2000000;       // Live sessions per node (~200 B each); beyond: unavailable.
};

// [tokens]: token MAC keys.
struct tokens_config {
  std::string key_file;                  // Empty: <data_dir>/keys.json, created mode 0600.
  uint32_t rotation_grace_s = 43200;     // After `keys rotate`, old keys verify this long.
  uint32_t reload_interval_ms = 1000;    // How often authd checks the key file.
};

// [users]: the users file and password hashing.
struct users_config {
  std::string file;                      // Empty: <data_dir>/users.toml; created if missing.
  uint32_t reload_interval_ms = 2000;    // How often the file's mtime is checked.
  uint32_t argon2_memory_kib = 19456;    // argon2id m for new hashes (19 MiB, OWASP minimum).
  uint32_t argon2_iterations = 2;        // argon2id t for new hashes.
  uint32_t password_threads = 1;         // Dedicated threads for argon2 checks (never CAF's).
  uint32_t max_pending_logins = 1024;    // Logins queued for a check; beyond: unavailable.
  uint32_t login_max_wait_ms = 30;       // Admit a login only if its check should start within this.
};

// [audit]: the tamper-evident, durable audit log (docs/audit-format.md).
struct audit_config {
  bool enabled = true;                   // false: nothing recorded, writes not durable (benchmarks only)
  std::string dir;                       // Empty: <data_dir>/audit.
  uint64_t segment_bytes = 64ull << 20;  // Segment size (preallocated); then rotate.
  uint32_t retain_segments = 0;          // Keep at most this many segments; 0 = all.
  uint32_t retain_days = 0;              // Delete segments older than this; 0 = never.
};

// [limiter.user], [limiter.ip], [limiter.user_ip]: one policy per key kind.
struct limit_policy_config {
  double rate_per_s = 10;                // Sustained attempts per second.
  uint32_t burst = 20;                   // Attempts allowed at once.
  uint32_t lockout_after = 10;           // Consecutive failures that lock the key; 0 = never.
  uint32_t lockout_base_ms = 1000;       // First lockout; each next one doubles...
  uint32_t lockout_max_ms = 900000;      // ...up to this.
};

// [limiter]: login rate limiting, asked before any password is hashed.
struct limiter_config {
  uint32_t shards = 2;                   // Limiter shard actors; keys split by hash.
  uint32_t max_keys = 1000000;           // Keys remembered per node (~150 B each); LRU beyond.
  uint32_t sweep_interval_ms = 1000;     // How often idle keys are dropped.
  limit_policy_config user{10, 20, 10, 1000, 900000};
  limit_policy_config ip{100, 200, 0, 1000, 900000};
  limit_policy_config user_ip{5, 10, 5, 1000, 300000};
};

// [monitor]: the operators' HTTP endpoint (Prometheus /metrics).
struct monitor_config {
  bool enabled = true;
  std::string host = "127.0.0.1";
  uint16_t port = 7401;                  // 0 picks a free port.
  bool request_metrics = true;           // requests by op/result and latency histograms
  uint32_t summary_interval_ms = 1000;   // how often the monitor actor aggregates
};

// [supervision]: restart intensities (Erlang/OTP: at most N restarts in T).
struct supervision_config {
  uint32_t max_restarts = 10;            // per shard/audit supervisor, within period_ms...
  uint32_t period_ms = 10000;            // ...else that supervisor gives up (its subtree restarts)
  uint32_t root_max_restarts = 3;        // subtree restarts the root allows within root_period_ms...
  uint32_t root_period_ms = 30000;       // ...else authd exits with status 3
};

// [snapshots]: the sessions and lockouts the audit log implies, written so
// that a restart replays only the log's tail (docs/operations.md, Recovery).
struct snapshots_config {
  bool enabled = true;
  std::string dir;                       // Empty: <data_dir>/snapshots.
  uint64_t every_records = 100000;       // Snapshot once this many records were added...
  uint32_t interval_s = 300;             // ...or this long passed with any record added.
  uint32_t keep = 2;                     // Snapshots kept: older ones are the fallback.
};

// [cluster.tls]: TLS between members (docs/cluster.md, "TLS between
// members"). Off while cert_file is empty. Every member presents a
// certificate from the cluster's one CA and accepts only peers that do; the
// secret handshake still runs inside. Renewed files are picked up for new
// connections (checked every reload_interval_ms, and on SIGHUP).
struct cluster_tls_config {
  std::string cert_file;                 // PEM: this member's certificate (and chain).
  std::string key_file;                  // PEM: its private key (mode 0600).
  std::string ca_file;                   // PEM: the cluster CA; peers must hold a certificate from it.
  uint32_t reload_interval_ms = 2000;    // How often the files' mtimes are checked.
  bool enabled() const { return !cert_file.empty(); }
};

// [cluster]: membership, ring and replication (docs/cluster.md). Off: the
// node serves alone and every key is its own.
struct cluster_config {
  bool enabled = false;
  std::string host = "127.0.0.1";        // Address peers reach this node's CAF middleman on.
  uint16_t port = 7500;                  // Cluster port (0 picks a free one; tests read it back).
  std::vector<std::string> seeds;        // "host:port" of members to join through; any one suffices.
  std::string secret;                    // Shared by every member (>= 16 bytes); or secret_file.
  std::string secret_file;               // File holding the secret (mode 0600); wins over `secret`.
  uint32_t replicas = 2;                 // R: copies of each session and lockout (owner + R-1).
  uint32_t heartbeat_interval_ms = 200;  // Each member tells every peer it is alive this often.
  uint32_t suspect_after_ms = 1000;      // Silent this long: suspect (still owns its ranges).
  uint32_t down_after_ms = 2000;         // Silent this long (or connection lost): down.
  uint32_t reconnect_interval_ms = 500;  // How often seeds and down members are retried.
  uint32_t request_timeout_ms = 2000;    // A forwarded request unanswered this long: unavailable.
  uint32_t leave_timeout_ms = 5000;      // SIGTERM: longest wait for the hand-over before exit.
  cluster_tls_config tls;
};

// [testing]: drills and tests only.
struct testing_config {
  bool fault_injection = false;          // true: the admin op debug_crash makes an actor throw
  bool populate = false;                 // true: the admin op debug_populate opens sessions in bulk
};

// [log]
struct log_config {
  std::string level = "info";            // trace, debug, info, warn, error, off.
};

struct node_settings {
  node_config node;
  server_config server;
  actors_config actors;
  sessions_config sessions;
  tokens_config tokens;
  users_config users;
  audit_config audit;
  snapshots_config snapshots;
  limiter_config limiter;
  monitor_config monitor;
  supervision_config supervision;
  cluster_config cluster;
  testing_config testing;
  log_config log;

  // Paths with defaults resolved against node.data_dir.
  std::string users_file() const;
  std::string key_file() const;
  std::string audit_dir() const;
  std::string snapshot_dir() const;
  // The cluster secret from secret_file or secret; throws config_error.
  std::string cluster_secret() const;
};

// Thrown for a bad config file; what() names the file and the key.
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses TOML text; `origin` names the file in error messages.
// Throws config_error on an unknown key, a wrong type or a value out of range.
node_settings parse(const std::string& toml_text, const std::string& origin);

// True if two limiter sections differ in any key.
bool differs(const limiter_config& a, const limiter_config& b);

// Sections (other than limiter and log, which reload live) whose keys differ.
std::vector<std::string> changed_sections(const node_settings& a, const node_settings& b);

// True for 127.0.0.0/8 and ::1: an address no other machine can reach.
bool is_loopback_address(const std::string& host);

// Splits "host:port" (port 1-65535); false if it is not that shape.
bool parse_host_port(const std::string& text, std::string& host, uint16_t& port);

// Reads and parses a file; throws config_error if unreadable or invalid.
node_settings load_file(const std::string& path);

// The defaults, rendered as a commented TOML file (authd --print-default-config).
std::string default_toml();

// Any settings rendered as a TOML file that parses back to the same settings.
std::string render_toml(const node_settings& s);

}  // namespace castellan::config
