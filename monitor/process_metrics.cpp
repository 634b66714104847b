// process_*, castellan_build_info and castellan_ready; see process_metrics.hpp.
// Linux only: the figures come from /proc, as the Prometheus Go and Python
// clients read them.
#include "monitor/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>

namespace castellan::monitor {

namespace {

prometheus::MetricFamily one(const char* name, const char* help, prometheus::MetricType type,
                             double value, std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (type == prometheus::MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  return {name, help, type, {m}};
}

// The fields of /proc/self/stat after the command name (which may hold
// spaces and parentheses, so everything up to the last ')' is skipped):
// [0] is field 3 of proc(5), the state.
std::vector<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return {};
  std::istringstream rest(text.substr(close + 1));
  return {std::istream_iterator<std::string>(rest), std::istream_iterator<std::string>()};
}

// When the machine booted, in seconds since the epoch (`btime` in /proc/stat).
double boot_time_s() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

double open_fds() {
  std::error_code ec;
  double n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

}  // namespace

process_collector::process_collector(std::function<bool()> ready) : ready_(std::move(ready)) {}

std::vector<prometheus::MetricFamily> process_collector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  out.push_back(one("castellan_build_info", "Always 1; the labels say which build this is",
                    MetricType::Gauge, 1,
                    {{"version", CASTELLAN_VERSION}, {"compiler", __VERSION__}}));
  out.push_back(one("castellan_ready",
                    "1 when /health/ready answers 200 (every write can be made durable and, in a "
                    "cluster, a majority is reachable), else 0",
                    MetricType::Gauge, ready_ && ready_() ? 1 : 0));
  auto f = stat_fields();
  if (f.size() > 21) {  // utime, stime: fields 14, 15; starttime 22; vsize 23; rss 24
    double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    out.push_back(one("process_cpu_seconds_total", "User and system CPU time spent, in seconds",
                      MetricType::Counter, (std::stod(f[11]) + std::stod(f[12])) / ticks));
    out.push_back(one("process_start_time_seconds",
                      "Start time of the process since the Unix epoch, in seconds", MetricType::Gauge,
                      boot_time_s() + std::stod(f[19]) / ticks));
    out.push_back(one("process_virtual_memory_bytes", "Virtual memory size, in bytes",
                      MetricType::Gauge, std::stod(f[20])));
    out.push_back(one("process_resident_memory_bytes", "Resident memory size, in bytes",
                      MetricType::Gauge, std::stod(f[21]) * page));
  }
  out.push_back(one("process_open_fds", "Open file descriptors", MetricType::Gauge, open_fds()));
  rlimit fds{};
  if (::getrlimit(RLIMIT_NOFILE, &fds) == 0)
    out.push_back(one("process_max_fds", "The limit on open file descriptors", MetricType::Gauge,
                      static_cast<double>(fds.rlim_cur)));
  return out;
}

}  // namespace castellan::monitor
