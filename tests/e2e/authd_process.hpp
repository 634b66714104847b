// A real authd process for end-to-end tests: its own temp directory, config
// and users file, started on ephemeral 127.0.0.1 ports that are read back from
// --ready-file, stopped with SIGTERM (SIGKILL after a deadline).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "net/client.hpp"

namespace castellan::test {

// Users every test node has (cheap argon2 parameters, tests only).
inline const std::string alice_password = "alice-password";  // roles: trader, desk-7
inline const std::string carol_password = "carol-password";  // disabled
inline const std::string ops_password = "ops-password";      // roles: admin

class authd_process {
 public:
  // `extra_toml` is appended to the test config (it must not repeat a table
  // header the base config has: [server], [monitor], [users], [node]).
  // With `provision_users` false no users file is written, so authd bootstraps one.
  // `server_toml` and `monitor_toml` go into the [server] and [monitor] tables.
  explicit authd_process(const std::string& extra_toml = "", const std::string& server_toml = "",
                         bool provision_users = true, const std::string& monitor_toml = "");

  // Starts authd again on the directory (config, users, keys, audit log) of
  // an earlier node: a restart.
  static std::unique_ptr<authd_process> restart_in(const std::filesystem::path& dir);
  // Starts authd in `dir` (created) on `config_text`, written as dir/authd.toml.
  // The config must name its own ports (0 is fine) and paths.
  static std::unique_ptr<authd_process> with_config(const std::filesystem::path& dir,
                                                    const std::string& config_text);
  ~authd_process();
  authd_process(const authd_process&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  uint16_t monitor_port() const { return monitor_port_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string users_file() const { return (dir_ / "users.toml").string(); }
  std::string config_file() const { return (dir_ / "authd.toml").string(); }

  net::client connect() const;

  // Sends SIGTERM and returns the exit status (-1 if it had to be killed).
  int stop();
  // kill -9: no chance to flush or clean up.
  void kill_hard();
  // SIGHUP: re-read the config file.
  void reload();
  // Keep the directory after this object goes (for a restart).
  void keep_dir() { keep_dir_ = true; }
  std::string audit_dir() const { return (dir_ / "audit").string(); }
  std::string stderr_text() const;
  std::string stdout_text() const;

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uint16_t monitor_port_ = 0;
  bool keep_dir_ = false;

  struct restart_tag {};
  explicit authd_process(restart_tag) {}
  void launch();
};

// The raw session id inside a token (bytes 5..20 of its base64url body), and
// hex: what must never appear in the data directory.
std::string session_id_of(const std::string& token);
std::string hex_of(const std::string& bytes);

// Writes a users file with alice, carol (disabled) and ops (admin), hashed cheaply.
void write_users(const std::string& path);

// A fresh directory under the system temp dir, unique per test.
std::filesystem::path fresh_test_dir(const std::string& tag);

// Runs a program to completion with a deadline; returns its exit code and output.
struct run_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};
run_result run_program(const std::vector<std::string>& argv, const std::string& stdin_text = "",
                       std::chrono::seconds deadline = std::chrono::seconds(30),
                       const std::filesystem::path& cwd = {});

// A plain HTTP/1.0 GET to 127.0.0.1:port; the whole response (status line,
// headers, body), or "" if nothing answers within 5 s.
std::string http_get(uint16_t port, const std::string& path);

// Polls `condition` every few ms until it holds or `deadline` passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds deadline = std::chrono::milliseconds(10000));

// Limiter policies far above anything a test does, so that only what a test
// sets itself limits it.
extern const std::string generous_limits;
// A node that takes debug_crash drills ([testing] fault_injection), with
// generous per-user limits.
extern const std::string drills;

// Logs `user` in and returns the token; throws naming the error otherwise.
std::string token_of(net::client& c, const std::string& user, const std::string& password);

// One unlabelled counter or gauge from the monitor's /metrics, or -1 when absent.
double metric(uint16_t monitor_port, const std::string& series);

}  // namespace castellan::test
