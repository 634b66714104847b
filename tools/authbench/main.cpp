// authbench: a load generator for one Castellan node. This file is only the
// command line (CLI11) and the report (a table, or one JSON object with
// --json); the load itself is load.cpp. Exit codes: 0 success, 1 the run
// failed (cannot connect, setup login refused, connection lost), 2 usage.
#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/tls_flags.hpp"
#include <nlohmann/json.hpp>

#include "load.hpp"

namespace {

using namespace castellan::bench;

constexpr const char* footer_text = R"(Ops:
  validate  validate the connection's token (default)
  refresh   refresh the connection's token
  login     log in with --user/--password on every request
  ping      ping (no credentials needed)
  mixed     per connection, of every 20 requests: 18 validate, 1 refresh,
            1 login (90/5/5), chosen by a counter so runs are repeatable
validate, refresh and mixed log in once per connection at setup for a token.

Load is closed-loop: each connection always has exactly --pipeline requests
in flight; each reply sends the next request. Nothing is recorded during
--warmup. With --duration, replies arriving in the window after warmup are
recorded; with --requests, exactly that many requests are sent after warmup
and all their replies are awaited. Latency (send to reply) is in
microseconds, for all replies, and when there were errors also for the `ok`
replies and the errors apart.

With --rate R the load is open-loop instead: R requests per second over all
connections, each sent at its scheduled time whatever the replies do
(--pipeline is ignored), as real clients arrive. Latency counts from the
scheduled time, so a server that falls behind cannot hide it (no coordinated
omission). A reply later than --deadline-ms is one the client gave up on:
goodput counts only `ok` replies within it. Requests scheduled during the
window are measured; their replies are awaited up to one deadline after it.

Exit codes: 0 success, 1 run failed (cannot connect, setup login refused,
connection lost), 2 usage error.)";

struct cli_values {
  load_options options;
  std::string op = "validate";
  uint64_t requests = 0;
  double rate = 0;
  bool json = false;
};

void define_options(CLI::App& app, cli_values& v) {
  auto& o = v.options;
  app.add_option("--host", o.host, "Node address")->capture_default_str();
  castellan::tools::add_tls_flags(app, o.tls);
  app.add_option("--port", o.port, "Node client port")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  app.add_option("-c,--connections", o.connections, "TCP connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("-P,--pipeline", o.pipeline, "Requests in flight per connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  app.add_option("-d,--duration", o.duration_s, "Seconds to measure, after warmup")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("-n,--requests", v.requests,
                 "Requests to measure in total (instead of --duration; wins if both)")
      ->check(CLI::PositiveNumber);
  app.add_option("--op", v.op, "validate, login, refresh, ping or mixed (see below)")
      ->capture_default_str()
      ->check(CLI::IsMember({"validate", "login", "refresh", "ping", "mixed"}));
  app.add_option("--user", o.user, "User to log in as (all ops but ping)");
  app.add_option("--password", o.password, "That user's password")
      ->envname("AUTHBENCH_PASSWORD");
  app.add_option("--threads", o.threads, "Client threads; connections are spread over them")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--warmup", o.warmup_s, "Seconds of unrecorded load before measuring")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rate", v.rate, "Open loop: requests per second over all connections")
      ->check(CLI::PositiveNumber);
  app.add_option("--deadline-ms", o.deadline_ms, "Open loop: the client's deadline per request")
      ->capture_default_str()
      ->check(CLI::Range(1, 600000));
  app.add_flag("--json", v.json, "Print the results as one JSON object");
  app.footer(footer_text);
}

// Each connection is a descriptor; the usual soft limit of 1024 would make
// -c 2000 fail at connect with EMFILE although the hard limit allows it.
void raise_fd_limit(uint32_t connections) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return;
  rlim_t wanted = connections + 64;
  if (lim.rlim_cur >= wanted)
    return;
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, lim.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &lim);
}

// Tenths of a microsecond: the histogram is only 0.8% precise anyway.
double to_us(uint64_t ns) { return std::round(static_cast<double>(ns) / 100.0) / 10.0; }

double throughput(const load_result& r) {
  return r.elapsed_s > 0 ? static_cast<double>(r.requests) / r.elapsed_s : 0.0;
}

// Open loop: `ok` replies within the client's deadline, per second.
double goodput(const load_result& r) {
  return r.elapsed_s > 0 ? static_cast<double>(r.good) / r.elapsed_s : 0.0;
}

struct percentile_row {
  const char* json_key;
  const char* label;
  double percentile;
};

constexpr percentile_row percentile_rows[] = {
    {"p50", "p50", 50.0}, {"p90", "p90", 90.0}, {"p99", "p99", 99.0}, {"p999", "p99.9", 99.9}};

void print_latency(const char* label, const latency_histogram& h) {
  std::printf("\n  %s", label);
  for (const auto& row : percentile_rows)
    std::printf("  %s %.1f", row.label, to_us(h.value_at(row.percentile)));
  std::printf("  max %.1f", to_us(h.max()));
}

void print_human(const load_options& o, const load_result& r) {
  std::printf("authbench: %s against %s:%u\n", to_string(o.op), o.host.c_str(), o.port);
  if (o.rate)
    std::printf("  connections %u, open loop at %g/s, deadline %u ms, threads %u, warmup %g s, ",
                o.connections, *o.rate, o.deadline_ms, r.threads, o.warmup_s);
  else
    std::printf("  connections %u, pipeline %u, threads %u, warmup %g s, ", o.connections,
                o.pipeline, r.threads, o.warmup_s);
  if (o.requests)
    std::printf("requests %llu\n", static_cast<unsigned long long>(*o.requests));
  else
    std::printf("duration %g s\n", o.duration_s);
  std::printf("  requests    %llu in %.2f s\n", static_cast<unsigned long long>(r.requests),
              r.elapsed_s);
  std::printf("  throughput  %.0f ops/s\n", throughput(r));
  if (o.rate)
    std::printf("  open loop   offered %.0f/s (%llu), goodput %.0f/s ok within %u ms, late %llu, "
                "unanswered %llu\n",
                r.elapsed_s > 0 ? static_cast<double>(r.offered) / r.elapsed_s : 0.0,
                static_cast<unsigned long long>(r.offered), goodput(r), o.deadline_ms,
                static_cast<unsigned long long>(r.late),
                static_cast<unsigned long long>(r.unanswered));
  std::printf("  errors      ");
  if (r.errors.empty())
    std::printf("none");
  const char* sep = "";
  for (const auto& [code, n] : r.errors) {
    std::printf("%s%s %llu", sep, code.c_str(), static_cast<unsigned long long>(n));
    sep = ", ";
  }
  print_latency("latency us ", r.latency);
  if (!r.errors.empty()) {
    print_latency("ok only us ", r.latency_ok);
    print_latency("errors us  ", r.latency_error);
  }
  std::printf("\n");
}

void print_json(const load_options& o, const load_result& r) {
  nlohmann::ordered_json out;
  out["op"] = to_string(o.op);
  out["connections"] = o.connections;
  out["pipeline"] = o.pipeline;
  out["threads"] = r.threads;
  out["duration_s"] = r.elapsed_s;
  out["requests"] = r.requests;
  out["errors"] = nlohmann::ordered_json::object();
  for (const auto& [code, n] : r.errors)
    out["errors"][code] = n;
  out["throughput_rps"] = throughput(r);
  out["ok_rps"] = r.elapsed_s > 0 ? static_cast<double>(r.latency_ok.count()) / r.elapsed_s : 0.0;
  if (o.rate) {
    out["rate_rps"] = *o.rate;
    out["deadline_ms"] = o.deadline_ms;
    out["offered"] = r.offered;
    out["good"] = r.good;
    out["goodput_rps"] = goodput(r);
    out["late"] = r.late;
    out["unanswered"] = r.unanswered;
  }
  auto percentiles = [](const latency_histogram& h) {
    nlohmann::ordered_json l;
    for (const auto& row : percentile_rows)
      l[row.json_key] = to_us(h.value_at(row.percentile));
    l["max"] = to_us(h.max());
    return l;
  };
  out["latency_us"] = percentiles(r.latency);
  out["latency_ok_us"] = percentiles(r.latency_ok);
  out["latency_error_us"] = percentiles(r.latency_error);
  std::printf("%s\n", out.dump().c_str());
}

// Checks what CLI11 cannot express; returns an error message or "".
std::string finish_options(CLI::App& app, cli_values& v) {
  v.options.op = *op_mode_from_string(v.op);  // IsMember already checked it
  if (app.count("--requests") > 0)
    v.options.requests = v.requests;
  if (app.count("--rate") > 0) {
    if (v.options.requests)
      return "--rate (open loop) measures a --duration, not a count of --requests";
    v.options.rate = v.rate;
  }
  if (needs_credentials(v.options.op) && (v.options.user.empty() || v.options.password.empty()))
    return std::string("--op ") + v.op + " needs --user and --password";
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"authbench: load generator for a Castellan node; prints throughput and latency"};
  cli_values values;
  define_options(app, values);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  castellan::tools::settle_tls_flags(values.options.tls);
  if (auto problem = finish_options(app, values); !problem.empty()) {
    std::fprintf(stderr, "authbench: %s\n", problem.c_str());
    return 2;
  }

  raise_fd_limit(values.options.connections);
  try {
    auto result = run_load(values.options);
    if (values.json)
      print_json(values.options, result);
    else
      print_human(values.options, result);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "authbench: %s\n", e.what());
    return 1;
  }
}
