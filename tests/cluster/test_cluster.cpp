// test_cluster; see test_cluster.hpp.
#include "tests/cluster/test_cluster.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "net/key_file.hpp"

namespace castellan::test {
namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `count` distinct ports nobody listens on now, below the kernel's ephemeral
// range (32768 and up on Linux). Members start one after another, some
// minutes into a test: a port from the ephemeral range could meanwhile become
// the local end of any process's outgoing connection (the other tests'
// clients), and two ports picked by binding port 0 one at a time can repeat.
// Each candidate stays bound until all are found, so none repeats.
std::vector<uint16_t> free_ports(size_t count) {
  constexpr uint16_t first = 20000, span = 12000;  // [20000, 32000)
  static uint32_t cursor = static_cast<uint32_t>(::getpid()) * 7919u;
  std::vector<int> held;
  std::vector<uint16_t> ports;
  for (uint32_t tries = 0; ports.size() < count && tries < span; ++tries) {
    auto port = static_cast<uint16_t>(first + cursor++ % span);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      held.push_back(fd);
      ports.push_back(port);
    } else {
      ::close(fd);
    }
  }
  for (int fd : held)
    ::close(fd);
  if (ports.size() < count)
    throw std::runtime_error("no free ports in [20000, 32000)");
  return ports;
}

void write_secret(const std::filesystem::path& p, const std::string& secret) {
  std::ofstream(p) << secret << "\n";
  std::filesystem::permissions(p, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

}  // namespace

test_cluster::test_cluster(size_t members, const std::string& extra_toml) : extra_(extra_toml) {
  dir_ = fresh_test_dir("cluster");
  write_users((dir_ / "users.toml").string());
  write_secret(dir_ / "secret", "test-cluster-secret-0123456789");
  auto ports = free_ports(3 * max_members + 1);
  for (size_t i = 0; i < max_members; ++i)
    ports_.push_back({ports[3 * i], ports[3 * i + 1], ports[3 * i + 2]});
  spare_port_ = ports.back();
  // The first member creates the shared key file; the others load it.
  for (size_t i = 0; i < members; ++i) {
    nodes_.push_back(authd_process::with_config(dir_ / name(i), config_for(i, "secret")));
    nodes_.back()->keep_dir();
    running_.push_back(true);
  }
}

namespace {

// The last cluster lines of a member's log: a failed test shows what each
// member saw (membership, hand-overs), also where only its output is kept.
std::string cluster_log_tail(const std::filesystem::path& member_dir, size_t lines) {
  std::istringstream log(read_file(member_dir / "stderr.txt"));
  std::deque<std::string> tail;
  for (std::string line; std::getline(log, line);)
    if (line.find("cluster:") != std::string::npos) {
      tail.push_back(line);
      if (tail.size() > lines)
        tail.pop_front();
    }
  std::string out;
  for (auto& line : tail)
    out += "  " + line + "\n";
  return out;
}

}  // namespace

test_cluster::~test_cluster() {
  for (auto& n : nodes_)
    if (n)
      n->kill_hard();
  if (!::testing::Test::HasFailure()) {
    std::filesystem::remove_all(dir_);
    return;
  }
  for (size_t i = 0; i < nodes_.size(); ++i)
    std::cerr << "--- " << name(i) << ": its last cluster log lines\n" << cluster_log_tail(dir_ / name(i), 40);
}

std::string test_cluster::config_for(size_t i, const std::string& secret_file,
                                     const std::string& users_file) const {
  return config_for(i, secret_file, users_file, extra_);
}

std::string test_cluster::config_for(size_t i, const std::string& secret_file,
                                     const std::string& users_file,
                                     const std::string& extra_toml) const {
  // Members past the example's three are node-c's config under their own
  // name (they join through the same seeds, as an operator adds a node).
  auto example = std::filesystem::path(CASTELLAN_SOURCE_DIR) / "examples" / "cluster-3" /
                 (name(std::min<size_t>(i, 2)) + ".toml");
  auto text = read_file(example);
  if (i > 2)
    text = std::regex_replace(text, std::regex("node-c"), name(i));
  auto& p = ports_[i];
  text = std::regex_replace(text, std::regex("port = 741[1-3]"), "port = " + std::to_string(p.client));
  text = std::regex_replace(text, std::regex("port = 751[1-3]"), "port = " + std::to_string(p.cluster));
  text = std::regex_replace(text, std::regex("port = 761[1-3]"), "port = " + std::to_string(p.monitor));
  for (size_t j = 0; j < 3; ++j)
    text = std::regex_replace(text, std::regex("127\\.0\\.0\\.1:751" + std::to_string(j + 1)),
                              "127.0.0.1:" + std::to_string(ports_[j].cluster));
  if (!users_file.empty())
    text = std::regex_replace(text, std::regex("\"cluster-3-data/users\\.toml\""),
                              "\"" + users_file + "\"");
  text = std::regex_replace(text, std::regex("\"cluster-3-data/secret\""),
                            "\"" + (dir_ / secret_file).string() + "\"");
  text = std::regex_replace(text, std::regex("\"cluster-3-data/"), "\"" + dir_.string() + "/");
  return text + "\n" + std::regex_replace(extra_toml, std::regex("\\{member\\}"), name(i)) + "\n";
}

void test_cluster::start(size_t i, const std::string& users_file) {
  if (i != nodes_.size())
    throw std::logic_error("members start in order");
  nodes_.push_back(authd_process::with_config(dir_ / name(i), config_for(i, "secret", users_file)));
  nodes_.back()->keep_dir();
  running_.push_back(true);
}

void test_cluster::kill_hard(size_t i) {
  nodes_.at(i)->kill_hard();
  running_[i] = false;
}

namespace {

// Whether every thread of `pid` is stopped ('T' in /proc/<pid>/task/*/stat).
bool all_threads_stopped(pid_t pid) {
  std::error_code ec;
  auto tasks = std::filesystem::path("/proc") / std::to_string(pid) / "task";
  for (auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream in(task.path() / "stat");
    std::string line;
    std::getline(in, line);
    auto close = line.rfind(')');  // the name may hold spaces and parentheses
    if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'T')
      return false;
  }
  return !ec;
}

}  // namespace

bool test_cluster::freeze(size_t i) {
  pid_t pid = nodes_.at(i)->pid();
  ::kill(pid, SIGSTOP);
  for (int tries = 0; tries < 200; ++tries) {
    if (all_threads_stopped(pid))
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int test_cluster::stop(size_t i) {
  running_[i] = false;
  return nodes_.at(i)->stop();
}

void test_cluster::restart(size_t i) {
  nodes_.at(i) = authd_process::restart_in(dir_ / name(i));
  nodes_.at(i)->keep_dir();
  running_[i] = true;
}

std::unique_ptr<authd_process> test_cluster::start_with_wrong_secret(size_t i,
                                                                    bool at_seed_address) {
  write_secret(dir_ / "wrong-secret", "not-the-cluster-secret-987654321");
  return start_outsider(i, config_for(i, "wrong-secret"), at_seed_address);
}

std::unique_ptr<authd_process> test_cluster::start_stranger(size_t i, const std::string& extra_toml,
                                                            bool at_seed_address) {
  return start_outsider(i, config_for(i, "secret", "", extra_toml), at_seed_address);
}

std::unique_ptr<authd_process> test_cluster::start_outsider(size_t i, std::string config,
                                                            bool at_seed_address) {
  if (!at_seed_address) {
    auto seed_port = "port = " + std::to_string(ports_.at(i).cluster) + "\n";
    auto at = config.find(seed_port);
    if (at == std::string::npos)
      throw std::logic_error("no cluster port in the config of " + name(i));
    config.replace(at, seed_port.size(), "port = " + std::to_string(spare_port_) + "\n");
  }
  auto p = authd_process::with_config(dir_ / (name(i) + "-intruder"), config);
  p->keep_dir();
  return p;
}

nlohmann::json test_cluster::cluster_of(size_t i) const {
  auto response = http_get(ports_.at(i).monitor, "/cluster");
  auto body = response.find("\r\n\r\n");
  if (body == std::string::npos)
    return nlohmann::json::object();
  try {
    return nlohmann::json::parse(response.substr(body + 4));
  } catch (const std::exception&) {
    return nlohmann::json::object();
  }
}

// Null when node i does not list `who`.
std::optional<net::member_state> test_cluster::state_seen(size_t i, const std::string& who) const {
  auto view = cluster_of(i);
  for (auto& m : view.value("members", nlohmann::json::array()))
    if (m.value("name", "") == who)
      return net::member_state_from(m.value("state", ""));
  return std::nullopt;
}

bool test_cluster::converged() const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!running_[i])
      continue;
    for (size_t j = 0; j < nodes_.size(); ++j)
      if (running_[j] && state_seen(i, name(j)) != net::member_state::up)
        return false;
    if (cluster_of(i).value("complete", false) != true)
      return false;  // a hand-over to it is still settling
  }
  return true;
}

net::session_key test_cluster::key_of(const std::string& token) const {
  auto ring = net::load_or_create_key_file((dir_ / "keys.json").string());
  auto key = ring->verify(token);
  if (!key)
    throw std::runtime_error("token does not verify with the cluster's keys");
  return *key;
}

std::string test_cluster::owner_of(const net::session_key& key) const {
  std::vector<std::string> names;
  for (size_t i = 0; i < nodes_.size(); ++i)
    names.push_back(name(i));
  actors::ring ring(names, 2);
  return ring.members()[ring.owner(actors::ring_hash(key))];
}

}  // namespace castellan::test
