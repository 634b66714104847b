// authctl: the operator's command line. Client commands (ping, login,
// validate, refresh, logout) speak the wire protocol through the client
// library; file commands (user ..., keys ..., hash-password) edit the users
// and key files that nodes read. Exit codes: see output.hpp.
#include <fcntl.h>
#include <sys/file.h>
#include <termios.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <iostream>

#include <CLI/CLI.hpp>

#include "config/config.hpp"
#include "config/password_hash.hpp"
#include "config/users_file.hpp"
#include "net/client.hpp"
#include "net/key_file.hpp"
#include "net/member_state.hpp"
#include "tools/authctl/audit_commands.hpp"
#include "tools/authctl/output.hpp"
#include "tools/authctl/status.hpp"
#include "tools/tls_flags.hpp"

namespace {

using namespace castellan;
using namespace castellan::authctl;

struct options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: from --config, else 7400
  uint32_t timeout_ms = 10000;
  bool json = false;
  std::string config_path;
  std::string users_file;
  std::string key_file;
  std::string password;
  bool password_stdin = false;
  net::tls_options tls;
};

config::node_settings settings_of(const options& o) {
  return o.config_path.empty() ? config::node_settings{} : config::load_file(o.config_path);
}

// Reads a secret: from --password, else a no-echo prompt on a terminal, else a stdin line.
std::string read_secret(const options& o, const char* prompt) {
  if (!o.password.empty())
    return o.password;
  std::string line;
  bool tty = !o.password_stdin && ::isatty(STDIN_FILENO);
  termios saved{};
  if (tty) {
    std::cerr << prompt << std::flush;
    ::tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::getline(std::cin, line);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  return line;
}

// A token argument of "-" is read from stdin, keeping it out of `ps`.
std::string token_arg(const std::string& token) {
  if (token != "-")
    return token;
  std::string line;
  std::getline(std::cin, line);
  return line;
}

// -- client commands ---------------------------------------------------------

int run_request(const options& o, const std::function<net::reply_view(net::client&)>& request) {
  uint16_t port = o.port ? o.port : settings_of(o).server.port;
  std::chrono::milliseconds timeout(o.timeout_ms);
  try {
    auto c = net::client::connect(o.host, port, timeout, o.tls);
    auto reply = request(c);
    auto body = to_json(reply.body.get());
    if (!reply.ok) {
      if (o.json)
        std::cout << body.dump() << "\n";
      else
        std::cerr << "error: " << reply.error << ": " << reply.message << "\n";
      return exit_refused;
    }
    print_reply(body, o.json);
    return exit_ok;
  } catch (const net::client_error& e) {
    std::cerr << "authctl: " << e.what() << "\n";
    return exit_unreachable;
  }
}

// Sends debug_populate in chunks the node accepts, a few in flight at once.
int run_populate(const options& o, const std::string& admin_token, uint64_t count) {
  uint16_t port = o.port ? o.port : settings_of(o).server.port;
  constexpr uint64_t chunk = 100000;
  try {
    auto c = net::client::connect(o.host, port, std::chrono::milliseconds(o.timeout_ms), o.tls);
    auto started = std::chrono::steady_clock::now();
    uint64_t asked = 0, created = 0, outstanding = 0;
    while (asked < count || outstanding > 0) {
      while (asked < count && outstanding < 4) {
        auto n = std::min(chunk, count - asked);
        c.queue(net::debug_populate_request{0, admin_token, n});
        asked += n;
        ++outstanding;
      }
      c.flush();
      auto r = c.receive(std::chrono::milliseconds(std::max<uint32_t>(o.timeout_ms, 60000)));
      if (!r)
        throw net::client_error("no reply to debug_populate");
      --outstanding;
      if (!r->ok) {
        std::cerr << "error: " << r->error << ": " << r->message << "\n";
        return exit_refused;
      }
      created += r->as<net::debug_populate_reply>().created;
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (o.json)
      std::cout << nlohmann::json{{"created", created}, {"seconds", s}}.dump() << "\n";
    else
      std::cout << "created " << created << " sessions in " << s << " s\n";
    return exit_ok;
  } catch (const net::client_error& e) {
    std::cerr << "authctl: " << e.what() << "\n";
    return exit_unreachable;
  }
}

// Sends a no-token request that the node answers about itself and prints
// the reply with `print` (or as JSON); `healthy` decides exit 0 or 1.
template <class Request>
int show_report(const options& o, Request request, void (*print)(const nlohmann::json&),
                bool (*healthy)(const nlohmann::json&)) {
  uint16_t port = o.port ? o.port : settings_of(o).server.port;
  try {
    auto c = net::client::connect(o.host, port, std::chrono::milliseconds(o.timeout_ms), o.tls);
    auto reply = c.call(request, std::chrono::milliseconds(o.timeout_ms));
    auto body = to_json(reply.body.get());
    if (!reply.ok) {
      std::cerr << "error: " << reply.error << ": " << reply.message << "\n";
      return exit_refused;
    }
    if (o.json)
      std::cout << body.dump() << "\n";
    else
      print(body);
    return healthy(body) ? exit_ok : exit_refused;
  } catch (const net::client_error& e) {
    std::cerr << "authctl: " << e.what() << "\n";
    return exit_unreachable;
  }
}

// The monitor's summary; exit 1 when the node is not ready, so scripts and
// probes can use it.
int show_status(const options& o) {
  return show_report(o, net::metrics_summary_request{}, print_status,
                     [](const nlohmann::json& s) { return s.value("ready", false); });
}

// Every member as the node sees it; exit 1 when any member is not up.
int show_cluster(const options& o) {
  return show_report(o, net::cluster_status_request{}, print_cluster_status,
                     [](const nlohmann::json& s) {
                       for (auto& m : s.value("members", nlohmann::json::array()))
                         if (net::member_state_from(m.value("state", "")) != net::member_state::up)
                           return false;
                       return true;
                     });
}

// -- file commands -----------------------------------------------------------

std::string users_path(const options& o) {
  return o.users_file.empty() ? settings_of(o).users_file() : o.users_file;
}

std::string audit_path(const options& o, const std::string& dir) {
  return dir.empty() ? settings_of(o).audit_dir() : dir;
}

std::string key_path(const options& o) {
  return o.key_file.empty() ? settings_of(o).key_file() : o.key_file;
}

config::users_table load_users_or_empty(const std::string& path) {
  if (!std::filesystem::exists(path))
    return {};
  return config::load_users(path);
}

int edit_users(const options& o, const std::function<void(config::users_table&)>& edit) {
  auto path = users_path(o);
  // Two operators editing at once must not lose one edit: hold an exclusive
  // advisory lock beside the file over the read-modify-write.
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty())
    std::filesystem::create_directories(dir);
  int lock = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0)
    throw config::config_error(path + ".lock: cannot lock the users file");
  struct unlock {
    int fd;
    ~unlock() { ::close(fd); }
  } release{lock};
  auto table = load_users_or_empty(path);
  edit(table);
  config::save_users(table, path);
  return exit_ok;
}

config::user_record& existing_user(config::users_table& t, const std::string& name) {
  auto it = t.by_name.find(name);
  if (it == t.by_name.end())
    throw config::config_error("no user named '" + name + "'");
  return it->second;
}

config::argon2_params hash_params(const options& o) {
  auto s = settings_of(o);
  return {s.users.argon2_memory_kib, s.users.argon2_iterations};
}

int list_users(const options& o) {
  auto table = load_users_or_empty(users_path(o));
  auto out = nlohmann::json::array();
  for (auto& [name, u] : table.by_name)
    out.push_back({{"user", name}, {"roles", u.roles}, {"enabled", u.enabled}});
  if (o.json) {
    std::cout << out.dump() << "\n";
    return exit_ok;
  }
  for (auto& u : out) {
    std::string roles;
    for (auto& r : u["roles"])
      roles += (roles.empty() ? "" : ",") + r.get<std::string>();
    std::cout << u["user"].get<std::string>() << "\t" << (u["enabled"].get<bool>() ? "enabled" : "disabled")
              << "\t" << (roles.empty() ? "-" : roles) << "\n";
  }
  return exit_ok;
}

int list_keys(const options& o) {
  auto ring = net::load_key_file(key_path(o));
  auto out = nlohmann::json::array();
  for (auto& k : ring.keys())  // never prints a secret
    out.push_back({{"id", k.id}, {"created_at", iso_time(k.created_ms)},
                   {"primary", k.id == ring.primary_id()},
                   {"retires_at", k.retire_at_ms ? iso_time(k.retire_at_ms) : ""}});
  if (o.json)
    std::cout << out.dump() << "\n";
  else
    for (auto& k : out)
      std::cout << k["id"] << "\t" << k["created_at"].get<std::string>()
                << (k["primary"].get<bool>() ? "\tprimary" : "")
                << (k["retires_at"].get<std::string>().empty()
                        ? ""
                        : "\tretires " + k["retires_at"].get<std::string>())
                << "\n";
  return exit_ok;
}

static std::string token;  // the TOKEN argument of the commands that take one

void add_client_commands(CLI::App& app, options& o, std::function<int()>& action) {
  app.add_subcommand("ping", "Check that a node answers")->callback([&] {
    action = [&] { return run_request(o, [&](net::client& c) { return c.ping(std::chrono::milliseconds(o.timeout_ms)); }); };
  });
  auto* crash = app.add_subcommand(
      "debug-crash", "Drills: make an actor throw (needs testing.fault_injection and an admin token)");
  static std::string crash_target;
  crash->add_option("target", crash_target, "session_shard, limiter_shard or audit_writer")->required();
  crash->add_option("token", token, "An admin's token, or - to read it from stdin")->required();
  crash->callback([&] {
    action = [&] {
      auto t = token_arg(token);
      return run_request(o, [&](net::client& c) {
        return c.call(net::debug_crash_request{0, t, crash_target},
                      std::chrono::milliseconds(o.timeout_ms));
      });
    };
  });
  auto* populate = app.add_subcommand(
      "debug-populate", "Benchmarks: open COUNT sessions for the admin's user without argon2 "
                        "(needs testing.populate and an admin token)");
  static uint64_t populate_count = 0;
  populate->add_option("count", populate_count, "Sessions to open")->required();
  populate->add_option("token", token, "An admin's token, or - to read it from stdin")->required();
  populate->callback([&] { action = [&] { return run_populate(o, token_arg(token), populate_count); }; });
  app.add_subcommand("status", "Show the node's health, load, request rates and latencies, "
                               "restarts and mailboxes (exit 1 when not ready)")
      ->callback([&] { action = [&] { return show_status(o); }; });
  auto* revoke = app.add_subcommand(
      "revoke-user", "End every session of a user, on every cluster member (an admin's token, or "
                     "the user's own); prints how many");
  static std::string revoke_target;
  revoke->add_option("user", revoke_target, "Whose sessions to end")->required();
  revoke->add_option("token", token, "Your token (admin, or the user's own), or - for stdin")
      ->required();
  revoke->callback([&] {
    action = [&] {
      auto t = token_arg(token);
      return run_request(o, [&](net::client& c) {
        return c.call(net::revoke_user_request{0, t, revoke_target},
                      std::chrono::milliseconds(o.timeout_ms));
      });
    };
  });
  auto* cluster = app.add_subcommand("cluster", "The cluster")->require_subcommand(1);
  cluster->add_subcommand("status", "Every member as this node sees it: state, last heard, load, "
                                    "restarts (exit 1 unless all are up)")
      ->callback([&] { action = [&] { return show_cluster(o); }; });
  auto* login = app.add_subcommand("login", "Log in; prints the token, user, roles and expiry");
  static std::string user, ip;
  login->add_option("user", user, "User name")->required();
  login->add_option("--ip", ip, "End user's IP, when logging in on someone's behalf");
  static bool by_certificate = false;
  login->add_flag("--certificate", by_certificate,
                  "Prove the user with the client certificate of --cert (mutual TLS), no password; "
                  "the token works only with that certificate");
  login->callback([&] {
    action = [&] {
      if (by_certificate)
        return run_request(o, [&](net::client& c) {
          return c.login_certificate(user, ip, std::chrono::milliseconds(o.timeout_ms));
        });
      auto password = read_secret(o, "password: ");
      return run_request(o, [&](net::client& c) {
        return c.login(user, password, ip, std::chrono::milliseconds(o.timeout_ms));
      });
    };
  });
  for (auto [name, help] : {std::pair{"validate", "Check a token; prints user, roles and expiry"},
                            std::pair{"refresh", "Extend a session; prints the new expiry"},
                            std::pair{"logout", "End a session"}}) {
    auto* sub = app.add_subcommand(name, help);
    sub->add_option("token", token, "The token, or - to read it from stdin")->required();
    std::string op = name;
    static std::string consistency = "owner";
    if (op == "validate")
      sub->add_option("--consistency", consistency,
                      "owner (default) or local: any node holding a copy may answer")
          ->check(CLI::IsMember({"owner", "local"}));
    sub->callback([&, op] {
      action = [&, op] {
        auto t = token_arg(token);
        return run_request(o, [&](net::client& c) {
          auto timeout = std::chrono::milliseconds(o.timeout_ms);
          if (op == "validate")
            return c.call(net::validate_request{0, t, consistency}, timeout);
          return op == "refresh" ? c.refresh(t, timeout) : c.logout(t, timeout);
        });
      };
    });
  }
}

void add_file_commands(CLI::App& app, options& o, std::function<int()>& action) {
  static std::string name;
  static std::vector<std::string> roles;
  static uint32_t key_id = 0;
  app.add_subcommand("hash-password", "Print an argon2id hash of a password (read from stdin)")
      ->callback([&] {
        action = [&] {
          std::cout << config::hash_password(read_secret(o, "password: "), hash_params(o)) << "\n";
          return exit_ok;
        };
      });
  auto* user = app.add_subcommand("user", "Edit the users file")->require_subcommand(1);
  auto* add = user->add_subcommand("add", "Add a user (password from prompt or stdin)");
  add->add_option("name", name)->required();
  add->add_option("-r,--role", roles, "Role (repeatable)");
  add->callback([&] {
    action = [&] {
      if (!config::valid_user_name(name))
        throw config::config_error("invalid user name (1-64 of A-Z a-z 0-9 . _ @ -)");
      auto password = read_secret(o, "new password: ");
      if (password.size() < 8)
        throw config::config_error("password must have at least 8 characters");
      return edit_users(o, [&](config::users_table& t) {
        if (t.by_name.count(name))
          throw config::config_error("user '" + name + "' exists");
        t.by_name[name] = {name, config::hash_password(password, hash_params(o)), roles, true, {}};
      });
    };
  });
  for (auto [verb, enabled, help] :
       {std::tuple{"disable", false, "Disable a user: logins are refused, sessions end at the next reload"},
        std::tuple{"enable", true, "Enable a disabled user"}}) {
    auto* sub = user->add_subcommand(verb, help);
    sub->add_option("name", name)->required();
    sub->callback([&, enabled = enabled] {
      action = [&, enabled] {
        return edit_users(o, [&](config::users_table& t) { existing_user(t, name).enabled = enabled; });
      };
    });
  }
  auto* passwd = user->add_subcommand("passwd", "Set a user's password");
  passwd->add_option("name", name)->required();
  passwd->callback([&] {
    action = [&] {
      auto password = read_secret(o, "new password: ");
      if (password.size() < 8)
        throw config::config_error("password must have at least 8 characters");
      return edit_users(o, [&](config::users_table& t) {
        existing_user(t, name).password_hash = config::hash_password(password, hash_params(o));
      });
    };
  });
  auto* certificates = user->add_subcommand(
      "certificates", "Set the client certificates that prove a user without a password "
                      "(login --certificate over mutual TLS); none given: clears them");
  static std::vector<std::string> names;
  certificates->add_option("name", name)->required();
  certificates->add_option("certificate", names, "CN=<common name>, DNS:<name> or URI:<uri>");
  certificates->callback([&] {
    action = [&] {
      for (auto& n : names)
        if (!config::valid_certificate_name(n))
          throw config::config_error("'" + n + "': a certificate is named CN=..., DNS:... or URI:...");
      return edit_users(o, [&](config::users_table& t) { existing_user(t, name).certificates = names; });
    };
  });
  user->add_subcommand("list", "List users, state and roles")->callback([&] {
    action = [&] { return list_users(o); };
  });
  auto* keys = app.add_subcommand("keys", "Token keys (rotation)")->require_subcommand(1);
  keys->add_subcommand("list", "List key ids (never secrets)")->callback([&] {
    action = [&] { return list_keys(o); };
  });
  keys->add_subcommand("rotate", "Add a key and make it primary; the old keys retire after "
                                  "tokens.rotation_grace_s (running nodes pick it up)")
      ->callback([&] {
        action = [&] {
          auto grace_s = settings_of(o).tokens.rotation_grace_s;
          auto id = net::rotate_key_file(key_path(o), int64_t{grace_s} * 1000);
          if (o.json)
            std::cout << nlohmann::json{{"primary", id}, {"grace_s", grace_s}}.dump() << "\n";
          else
            std::cout << "new primary key " << id << "; older keys retire in " << grace_s << " s\n";
          return exit_ok;
        };
      });
  auto* retire = keys->add_subcommand("retire", "Remove a key: tokens signed with it stop verifying");
  retire->add_option("id", key_id)->required();
  retire->callback([&] {
    action = [&] {
      net::retire_key(key_path(o), key_id);
      return exit_ok;
    };
  });
}

void add_audit_commands(CLI::App& app, options& o, std::function<int()>& action) {
  static std::string dir;
  static audit_filter filter;
  auto* audit = app.add_subcommand("audit", "Read the audit log (no node needed)")->require_subcommand(1);
  auto* verify = audit->add_subcommand(
      "verify", "Check every record's CRC and the hash chain; name the first bad record");
  verify->add_option("dir", dir, "Audit directory (default: from --config, else castellan-data/audit)");
  verify->callback([&] { action = [&] { return audit_verify(audit_path(o, dir), o.json); }; });
  auto* tail = audit->add_subcommand("tail", "Print audit records, oldest first");
  tail->add_option("dir", dir, "Audit directory (default: from --config, else castellan-data/audit)");
  tail->add_option("-u,--user", filter.user, "Only this user's events");
  tail->add_option("-k,--kind", filter.kind, "Only this kind (login_ok, login_failed, logout, ...)");
  tail->add_option("-n,--last", filter.last, "Only the last N matching records");
  tail->add_flag("-f,--follow", filter.follow, "Keep printing new records until interrupted");
  tail->callback([&] { action = [&] { return audit_tail(audit_path(o, dir), filter, o.json); }; });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"authctl: talk to Castellan nodes and edit their users and key files"};
  options o;
  app.add_option("--host", o.host, "Node address")->capture_default_str();
  app.add_option("-p,--port", o.port, "Node client port (default: from --config, else 7400)");
  app.add_option("--timeout-ms", o.timeout_ms, "Give up after this long")->capture_default_str();
  app.add_flag("--json", o.json, "Machine-readable output");
  app.add_option("-c,--config", o.config_path, "The node's config file (ports, file paths, hash cost)");
  app.add_option("--users-file", o.users_file, "Users file (default: from config)");
  app.add_option("--key-file", o.key_file, "Key file (default: from config)");
  app.add_option("--password", o.password, "Password (prefer the prompt or --password-stdin)");
  app.add_flag("--password-stdin", o.password_stdin, "Read the password from stdin");
  tools::add_tls_flags(app, o.tls);
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the command: `authctl login alice --json`
  std::function<int()> action;
  add_client_commands(app, o, action);
  add_file_commands(app, o, action);
  add_audit_commands(app, o, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? exit_ok : exit_usage;
  }
  tools::settle_tls_flags(o.tls);
  try {
    return action ? action() : exit_usage;
  } catch (const config::config_error& e) {
    std::cerr << "authctl: " << e.what() << "\n";
    return exit_file_error;
  } catch (const net::key_file_error& e) {
    std::cerr << "authctl: " << e.what() << "\n";
    return exit_file_error;
  } catch (const std::exception& e) {
    std::cerr << "authctl: " << e.what() << "\n";
    return exit_file_error;
  }
}
