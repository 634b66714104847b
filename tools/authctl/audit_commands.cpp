// Audit log commands; see audit_commands.hpp and docs/audit-format.md.
#include "tools/authctl/audit_commands.hpp"

#include <chrono>
#include <deque>
#include <filesystem>
#include <iostream>
#include <thread>

#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "actors/storage/audit_reader.hpp"
#include "net/events.hpp"
#include "net/utf8.hpp"
#include "tools/authctl/output.hpp"

namespace castellan::authctl {
namespace {

// A record's user and ip are what a client sent, any bytes (the log keeps
// them as they came): JSON must be UTF-8, and dump() throws on anything else.
nlohmann::json record_json(uint64_t index, const net::auth_event& e) {
  nlohmann::json j{{"index", index}, {"kind", e.kind}, {"time", iso_time(e.time_ms)},
                   {"time_ms", e.time_ms}, {"node", net::utf8_safe(e.node)}};
  if (!e.user.empty()) j["user"] = net::utf8_safe(e.user);
  if (!e.ip.empty()) j["ip"] = net::utf8_safe(e.ip);
  if (!e.session.empty()) j["session"] = e.session;
  if (!e.reason.empty()) j["reason"] = net::utf8_safe(e.reason);
  if (e.until_ms) j["until"] = iso_time(e.until_ms);
  if (e.count) j["count"] = e.count;
  return j;
}

// One line per record, whatever bytes a client put in it: controls and
// ill-formed bytes are shown as \xNN, never sent to the terminal.
std::string record_line(uint64_t index, const net::auth_event& e) {
  std::string line = iso_time(e.time_ms) + " #" + std::to_string(index) + " " + e.kind;
  auto add = [&](const char* k, const std::string& v) {
    if (!v.empty())
      line += std::string(" ") + k + "=" + net::log_safe(v, v.size());
  };
  add("node", e.node);
  add("user", e.user);
  add("ip", e.ip);
  add("session", e.session);
  add("reason", e.reason);
  if (e.until_ms)
    add("until", iso_time(e.until_ms));
  if (e.count)
    add("count", std::to_string(e.count));
  return line;
}

bool matches(const net::auth_event& e, const audit_filter& f) {
  return (f.user.empty() || e.user == f.user) && (f.kind.empty() || e.kind == f.kind);
}

net::auth_event decode(std::string_view body) {
  net::auth_event e;
  auto handle = msgpack::unpack(body.data(), body.size());
  handle.get().convert(e);
  return e;
}

}  // namespace

int audit_verify(const std::string& dir, bool json) {
  if (!std::filesystem::is_directory(dir)) {
    std::cerr << "authctl: " << dir << ": not an audit directory\n";
    return 4;
  }
  auto report = actors::verify_log(dir);
  if (json) {
    nlohmann::json j{{"ok", !report.problem}, {"segments", report.segments},
                     {"records", report.records}, {"first_index", report.first_index}};
    if (report.problem)
      j["problem"] = {{"segment", report.problem->segment_file}, {"offset", report.problem->offset},
                      {"record", report.problem->index}, {"what", report.problem->what}};
    std::cout << j.dump() << "\n";
  } else if (!report.problem) {
    std::cout << "ok: " << report.records << " records in " << report.segments
              << " segments, chain intact";
    if (report.first_index > 1)
      std::cout << " (records before #" << report.first_index << " removed by retention)";
    std::cout << "\n";
  } else {
    auto& p = *report.problem;
    std::cout << "FAILED: " << p.segment_file << " offset " << p.offset;
    if (p.index)
      std::cout << ", record #" << p.index;
    std::cout << ": " << p.what << "\n"
              << report.records << " records before it verified\n";
  }
  return report.problem ? 1 : 0;
}

int audit_tail(const std::string& dir, const audit_filter& f, bool json) {
  if (!std::filesystem::is_directory(dir)) {
    std::cerr << "authctl: " << dir << ": not an audit directory\n";
    return 4;
  }
  uint64_t printed_up_to = 0;  // highest index printed
  std::deque<std::string> last;
  auto emit = [&](uint64_t index, std::string_view body, const std::string&, uint64_t) {
    if (index <= printed_up_to)
      return;
    printed_up_to = index;
    net::auth_event e;
    try {
      e = decode(body);
    } catch (const std::exception&) {
      return;  // a record this version cannot read: skip, verify still checks it
    }
    if (!matches(e, f))
      return;
    auto line = json ? record_json(index, e).dump() : record_line(index, e);
    if (f.last && !f.follow) {
      last.push_back(std::move(line));
      if (last.size() > f.last)
        last.pop_front();
    } else {
      std::cout << line << "\n";
    }
  };
  actors::verify_log(dir, emit);
  for (auto& line : last)
    std::cout << line << "\n";
  std::cout << std::flush;
  while (f.follow) {
    // Re-reading is simple and the log is append-only; a tail of a busy node
    // should filter by --user or --kind.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    actors::verify_log(dir, emit);
    std::cout << std::flush;
  }
  return 0;
}

}  // namespace castellan::authctl
