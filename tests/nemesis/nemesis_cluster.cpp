// nemesis_cluster; see nemesis_cluster.hpp.
#include "tests/nemesis/nemesis_cluster.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "actors/runtime/ring.hpp"
#include "config/password_hash.hpp"
#include "config/users_file.hpp"
#include "net/key_file.hpp"
#include "tests/e2e/authd_process.hpp"
#include "tests/nemesis/network_namespace.hpp"

namespace castellan::nemesis {

using namespace std::chrono;

std::string cluster_layout::address(int i) { return network_namespace::member_address(i); }

std::string user_name(int worker, int k) { return "w" + std::to_string(worker) + "u" + std::to_string(k); }
std::string password_of(const std::string& user) { return "pw-" + user; }

namespace {

// GET http://address:port/path, the body only ("" when nothing answers in 2 s).
std::string http_body(const std::string& address, uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + address + "\r\n\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
      out.append(buf, size_t(n));
  }
  ::close(fd);
  auto body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

}  // namespace

nemesis_cluster::nemesis_cluster(std::filesystem::path dir, int workers, int users_per_worker,
                                 bool tls)
    : dir_(std::move(dir)) {
  if (tls) {
    pki_ = std::make_unique<test::test_pki>(dir_ / "pki");
    pki_->make_ca("cluster-ca");
    for (int i = 0; i < cluster_layout::members; ++i)
      pki_->issue(cluster_layout::name(i), "cluster-ca", cluster_layout::name(i),
                  "IP:" + cluster_layout::address(i));
  }
  config::argon2_params cheap{64, 1};  // tests only: a login costs microseconds, not 16 ms
  config::users_table users;
  for (int w = 0; w < workers; ++w)
    for (int k = 0; k < users_per_worker; ++k) {
      auto name = user_name(w, k);
      users.by_name[name] = {name, config::hash_password(password_of(name), cheap), {"trader"}, true, {}};
    }
  config::save_users(users, (dir_ / "users.toml").string());
  {
    std::ofstream(dir_ / "secret") << "nemesis-cluster-secret-0123456789\n";
    std::filesystem::permissions(dir_ / "secret",
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  for (int i = 0; i < cluster_layout::members; ++i) {
    auto mdir = dir_ / cluster_layout::name(i);
    std::filesystem::create_directories(mdir);
    std::ofstream(mdir / "authd.toml") << config_for(i);
    members_.push_back(std::make_unique<member_process>(mdir, network_namespace::member_gid(i)));
  }
  for (auto& m : members_)  // in order: the first creates keys.json
    m->start();
  keys_ = net::load_or_create_key_file((dir_ / "keys.json").string());
  if (!wait_converged(seconds(40)))
    throw std::runtime_error("nemesis: the members did not see each other up within 40 s");
}

nemesis_cluster::~nemesis_cluster() {
  for (auto& m : members_)
    m->kill9();
}

std::string nemesis_cluster::config_for(int i) const {
  auto d = dir_.string();
  std::string seeds;
  for (int j = 0; j < cluster_layout::members; ++j)
    seeds += std::string(j ? ", " : "") + "\"" + cluster_layout::address(j) + ":" +
             std::to_string(cluster_layout::cluster_port) + "\"";
  auto addr = cluster_layout::address(i);
  return "[node]\nname = \"" + cluster_layout::name(i) + "\"\ndata_dir = \"" + d + "/" + cluster_layout::name(i) +
         "\"\n\n[server]\nhost = \"" + addr + "\"\nport = " + std::to_string(cluster_layout::client_port) +
         "\n\n[users]\nfile = \"" + d + "/users.toml\"\nargon2_memory_kib = 64\nargon2_iterations = 1\n" +
         "\n[tokens]\nkey_file = \"" + d + "/keys.json\"\n" + "\n[monitor]\nhost = \"" + addr +
         "\"\nport = " + std::to_string(cluster_layout::monitor_port) + "\n" +
         // examples/cluster-3's settings: what docs/cluster.md's bounds are stated for.
         "\n[cluster]\nenabled = true\nhost = \"" + addr + "\"\nport = " +
         std::to_string(cluster_layout::cluster_port) + "\nseeds = [" + seeds + "]\nsecret_file = \"" + d +
         "/secret\"\nreplicas = " + std::to_string(cluster_layout::replicas) +
         "\nheartbeat_interval_ms = 200\nsuspect_after_ms = 1000\ndown_after_ms = 2000\n" +
         cluster_tls_toml(i);
}

std::string nemesis_cluster::cluster_tls_toml(int i) const {
  if (!pki_)
    return "";
  auto name = cluster_layout::name(i);
  return "\n[cluster.tls]\ncert_file = \"" + pki_->pem(name) + "\"\nkey_file = \"" + pki_->key(name) +
         "\"\nca_file = \"" + pki_->pem("cluster-ca") + "\"\n";
}

bool nemesis_cluster::sees_all_up(int i) const {
  try {
    auto view = nlohmann::json::parse(http_body(cluster_layout::address(i), cluster_layout::monitor_port, "/cluster"));
    for (int j = 0; j < cluster_layout::members; ++j) {
      if (!members_[j]->running() || members_[j]->frozen())
        continue;
      bool up = false;
      for (auto& m : view.value("members", nlohmann::json::array()))
        if (m.value("name", "") == cluster_layout::name(j))
          up = m.value("state", "") == "up";
      if (!up)
        return false;
    }
    return view.value("complete", false);  // and nothing still settling here
  } catch (const std::exception&) {
    return false;
  }
}

bool nemesis_cluster::wait_converged(milliseconds deadline) {
  auto until = steady_clock::now() + deadline;
  for (;;) {
    bool all = true;
    for (int i = 0; i < cluster_layout::members && all; ++i)
      if (members_[i]->running() && !members_[i]->frozen())
        all = sees_all_up(i);
    if (all)
      return true;
    if (steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

uint32_t nemesis_cluster::holders_of(const std::string& token) const {
  auto key = keys_->verify(token);
  if (!key)
    return 0;
  std::vector<std::string> names;
  for (int i = 0; i < cluster_layout::members; ++i)
    names.push_back(cluster_layout::name(i));
  actors::ring ring(names, cluster_layout::replicas);
  uint32_t mask = 0;
  for (auto idx : ring.place(actors::ring_hash(*key)))
    mask |= 1u << (ring.members()[idx].back() - 'a');  // "node-b" -> 1
  return mask;
}

std::vector<nemesis_cluster::verify_result> nemesis_cluster::stop_and_verify() {
  for (auto& m : members_)
    m->terminate(seconds(20));
  std::vector<verify_result> out;
  for (int i = 0; i < cluster_layout::members; ++i) {
    auto audit = dir_ / cluster_layout::name(i) / "audit";
    auto r = test::run_program({CASTELLAN_AUTHCTL, "audit", "verify", audit.string()}, "", seconds(60));
    out.push_back({r.exit_code, r.out + r.err});
  }
  return out;
}

}  // namespace castellan::nemesis
