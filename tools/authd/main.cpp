// authd: one Castellan node. Reads the config (or runs on the embedded
// defaults), creates the users and key files on first start, starts the node
// and serves until SIGINT/SIGTERM; SIGHUP re-reads the config file. Exit
// codes: 0 clean stop, 2 bad config or usage, 1 failure to start, 3 the root
// supervisor gave up (so systemd or an orchestrator restarts the node).
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "actors/node/node.hpp"
#include "config/config.hpp"
#include "config/logging.hpp"
#include "config/users_file.hpp"

namespace {

using namespace castellan;

void setup_logging(const std::string& level, const std::string& node_name) {
  auto logger = spdlog::stderr_color_mt("authd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + node_name + "] %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

void announce_bootstrap_admin(const std::string& path, const std::string& password) {
  // Printed once, to stdout only: it is never logged and never stored in clear.
  std::printf(
      "\n  Created users file %s with one user.\n"
      "    user:     admin\n"
      "    password: %s\n"
      "  This password is shown only now. Change it with `authctl user passwd admin`.\n\n",
      path.c_str(), password.c_str());
  std::fflush(stdout);
}

// Each client connection is a file descriptor: raise the soft limit to the
// hard one and say so if max_connections still cannot fit.
void raise_fd_limit(uint32_t max_connections) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur < rlim_t{max_connections} + 64)
    spdlog::warn("server.max_connections = {} but only {} file descriptors are allowed "
                 "(ulimit -n); connections beyond that wait in the listen queue",
                 max_connections, lim.rlim_cur);
}

void write_ready_file(const std::string& path, const actors::node_ports& ports) {
  auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << "{\"client_port\": " << ports.client << ", \"monitor_port\": " << ports.monitor
        << ", \"pid\": " << ::getpid() << "}\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

// Serves signals until SIGINT or SIGTERM, which it returns. The signals are
// blocked in every thread (the mask is set before any thread starts), so only
// this loop sees them. SIGHUP reloads the config; a bad file changes nothing.
int serve_signals(const sigset_t& signals, const std::string& config_path, actors::node& node) {
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGHUP)
      return sig;  // SIGINT, SIGTERM, or SIGUSR1 (the node failed)
    if (config_path.empty()) {
      spdlog::info("SIGHUP: running on the embedded defaults, nothing to reload");
      continue;
    }
    try {
      node.reload(config::load_file(config_path));
    } catch (const config::config_error& e) {
      spdlog::error("SIGHUP: config not reloaded, keeping the current one: {}", e.what());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"authd: a Castellan authentication node"};
  std::string config_path, ready_file;
  bool print_defaults = false, check_only = false;
  app.add_option("-c,--config", config_path, "TOML config file (default: embedded defaults)")
      ->check(CLI::ExistingFile);
  app.add_option("--ready-file", ready_file,
                 "Write bound ports as JSON to this file once serving (for scripts and tests)");
  app.add_flag("--print-default-config", print_defaults, "Print the default config and exit");
  app.add_flag("--check-config", check_only, "Validate the config file and exit (0 if valid)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (print_defaults) {
    std::cout << config::default_toml();
    return 0;
  }

  config::node_settings settings;
  try {
    if (!config_path.empty())
      settings = config::load_file(config_path);
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "authd: bad config: %s\n", e.what());
    return 2;
  }
  if (check_only) {
    std::printf("config ok\n");
    return 0;
  }
  setup_logging(settings.log.level, settings.node.name);
  raise_fd_limit(settings.server.max_connections);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  try {
    auto users_path = settings.users_file();
    if (auto password = config::bootstrap_users_file(users_path, settings.users.argon2_memory_kib,
                                                     settings.users.argon2_iterations))
      announce_bootstrap_admin(users_path, *password);
    actors::node node(settings);
    node.on_failure([](const std::string& reason) {
      spdlog::critical("root supervisor gave up, the node cannot serve: {}", reason);
      ::kill(::getpid(), SIGUSR1);  // wakes the signal loop in main()
    });
    auto ports = node.start();
    spdlog::info("serving clients on {}:{}, monitor on {}:{}, data in {}", settings.server.host,
                 ports.client, settings.monitor.host, ports.monitor, settings.node.data_dir);
    if (!ready_file.empty())
      write_ready_file(ready_file, ports);
    int sig = serve_signals(signals, config_path, node);
    if (sig == SIGUSR1) {
      node.stop();
      spdlog::critical("exiting with status 3 after a supervision failure");
      return 3;
    }
    spdlog::info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    node.stop();
    spdlog::info("stopped");
    return 0;
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
}
