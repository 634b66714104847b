// authbench's load engine: the run parameters, a bounded-memory latency
// histogram, and run_load(), which drives closed-loop load (exactly P requests
// in flight per connection) or open-loop load (requests sent at a fixed rate,
// whatever the replies do) from T threads, each multiplexing its own
// connections with epoll. main.cpp only parses the command line and prints.
#pragma once

#include "net/tls_client.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace castellan::bench {

// What every request of a run is. mixed: per connection, of every 20
// requests 18 are validate, 1 refresh and 1 login (90/5/5), chosen by a counter.
enum class op_mode { validate, login, refresh, ping, mixed };

const char* to_string(op_mode mode);
std::optional<op_mode> op_mode_from_string(const std::string& text);

// True when the op needs --user/--password (a token at setup, or login itself).
bool needs_credentials(op_mode mode);

struct load_options {
  std::string host = "127.0.0.1";
  uint16_t port = 7400;
  uint32_t connections = 50;
  uint32_t pipeline = 1;
  double duration_s = 10;            // ignored when `requests` is set
  std::optional<uint64_t> requests;  // measured requests in total, over all connections
  op_mode op = op_mode::validate;
  std::string user;
  std::string password;
  uint32_t threads = 1;              // capped at `connections`
  double warmup_s = 1;
  // Open loop: requests per second over all connections, each sent at its
  // scheduled time whatever the replies do (so a slow server cannot slow the
  // load, and latency counts from the scheduled time: no coordinated
  // omission). Empty: closed loop. Duration mode only.
  std::optional<double> rate;
  // Open loop: a reply later than this after its scheduled time is one the
  // client has given up on: not counted as goodput.
  uint32_t deadline_ms = 1000;
  net::tls_options tls;  // --tls, --ca, --cert/--key
};

// Log-linear histogram of nanosecond values, HdrHistogram's layout: values
// below 256 ns are exact, above that each power of two is split into 128
// buckets, so any value is known within 0.8% (reported as the bucket's upper
// bound, never below the truth). Fixed size (~30 KiB) whatever the run length.
class latency_histogram {
 public:
  static constexpr uint64_t max_trackable_ns = 60'000'000'000;  // 60 s; larger values clamp
  static constexpr size_t bucket_count = 3808;  // load.cpp checks it fits max_trackable_ns

  void record(uint64_t ns);
  void merge(const latency_histogram& other);

  uint64_t count() const { return total_; }
  uint64_t max() const { return max_; }
  // The smallest bucket bound with at least `percentile`% of values at or below
  // it; 0 when empty.
  uint64_t value_at(double percentile) const;

 private:
  std::array<uint64_t, bucket_count> counts_{};
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

struct load_result {
  uint64_t requests = 0;                    // replies recorded (ok or error)
  std::map<std::string, uint64_t> errors;   // error code -> recorded replies with it
  double elapsed_s = 0;                     // the measured window
  latency_histogram latency;                // every recorded reply, ok or error
  latency_histogram latency_ok;             // the `ok` replies only
  latency_histogram latency_error;          // the error replies only
  uint32_t threads = 0;                     // threads actually used
  // Open loop only: requests scheduled in the window, `ok` replies within the
  // deadline, replies after it, and requests never answered by the end
  // (the window plus one deadline).
  uint64_t offered = 0;
  uint64_t good = 0;
  uint64_t late = 0;
  uint64_t unanswered = 0;
};

// Cannot connect, setup login refused, connection lost or stalled: the run
// is void and authbench exits 1. what() is the message for the user.
struct load_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Connects, logs in per connection if the op needs a token, runs the warmup
// then the measured window, and returns the merged results. Throws load_failure.
load_result run_load(const load_options& options);

}  // namespace castellan::bench
