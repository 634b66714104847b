// Process control for the e2e tests; see authd_process.hpp.
#include "tests/e2e/authd_process.hpp"

#include <sodium.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/password_hash.hpp"
#include "config/users_file.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

void write_users(const std::string& path) {
  config::argon2_params cheap{64, 1};
  config::users_table t;
  t.by_name["alice"] = {"alice", config::hash_password(alice_password, cheap), {"trader", "desk-7"}, true, {}};
  t.by_name["carol"] = {"carol", config::hash_password(carol_password, cheap), {"trader"}, false, {}};
  t.by_name["ops"] = {"ops", config::hash_password(ops_password, cheap), {"admin"}, true, {}};
  config::save_users(t, path);
}

namespace {

// Waits for `pid` up to `deadline`; returns its exit code, or -1 if still running.
int wait_exit(pid_t pid, milliseconds deadline) {
  auto until = steady_clock::now() + deadline;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0 || steady_clock::now() >= until)
      return -1;
    std::this_thread::sleep_for(milliseconds(5));
  }
}

pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
            const std::string& out_path, const std::string& err_path, int stdin_fd) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0)
      ::_exit(127);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (stdin_fd >= 0)
      ::dup2(stdin_fd, 0);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

std::filesystem::path fresh_test_dir(const std::string& tag) {
  static int counter = 0;
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("castellan-" + tag + "-" + std::to_string(::getpid()) + "-" +
              (info ? std::string(info->name()) : "x") + "-" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string session_id_of(const std::string& token) {
  unsigned char raw[64];
  size_t n = 0;
  if (sodium_base642bin(raw, sizeof raw, token.data(), token.size(), nullptr, &n, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || n < 21)
    throw std::runtime_error("not a token: " + token);
  return std::string(reinterpret_cast<char*>(raw) + 5, 16);
}

std::string hex_of(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

authd_process::authd_process(const std::string& extra_toml, const std::string& server_toml,
                             bool provision_users, const std::string& monitor_toml) {
  dir_ = fresh_test_dir("e2e");
  if (provision_users)
    write_users(users_file());
  {
    std::ofstream cfg(config_file());
    cfg << "[node]\nname = \"test-node\"\ndata_dir = \"" << dir_.string() << "\"\n"
        << "[server]\nport = 0\nhost = \"127.0.0.1\"\n" << server_toml << "\n"
        << "[monitor]\nport = 0\n" << monitor_toml << "\n"
        << "[users]\nargon2_memory_kib = 64\nargon2_iterations = 1\nreload_interval_ms = 100\n"
        << extra_toml << "\n";
  }
  launch();
}

std::unique_ptr<authd_process> authd_process::with_config(const std::filesystem::path& dir,
                                                          const std::string& config_text) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "authd.toml") << config_text;
  return restart_in(dir);
}

std::unique_ptr<authd_process> authd_process::restart_in(const std::filesystem::path& dir) {
  std::unique_ptr<authd_process> p(new authd_process(restart_tag{}));
  p->dir_ = dir;
  p->launch();
  return p;
}

void authd_process::launch() {
  auto ready = dir_ / "ready.json";
  std::filesystem::remove(ready);
  pid_ = spawn({CASTELLAN_AUTHD, "--config", config_file(), "--ready-file", ready.string()}, dir_,
               (dir_ / "stdout.txt").string(), (dir_ / "stderr.txt").string(), -1);
  bool up = eventually([&] { return std::filesystem::exists(ready) || wait_exit(pid_, 0ms) != -1; },
                       seconds(30));
  if (!up || !std::filesystem::exists(ready))
    throw std::runtime_error("authd did not start: " + stderr_text());
  auto j = nlohmann::json::parse(slurp(ready));
  port_ = j.at("client_port").get<uint16_t>();
  monitor_port_ = j.at("monitor_port").get<uint16_t>();
}

authd_process::~authd_process() {
  stop();
  if (!keep_dir_ && !::testing::Test::HasFailure())
    std::filesystem::remove_all(dir_);
}

net::client authd_process::connect() const {
  return net::client::connect("127.0.0.1", port_, seconds(5));
}

void authd_process::reload() {
  if (pid_ > 0)
    ::kill(pid_, SIGHUP);
}

void authd_process::kill_hard() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  wait_exit(pid_, seconds(10));
  pid_ = -1;
}

int authd_process::stop() {
  if (pid_ <= 0)
    return -1;
  ::kill(pid_, SIGTERM);
  int code = wait_exit(pid_, seconds(20));
  if (code == -1) {
    ::kill(pid_, SIGKILL);
    wait_exit(pid_, seconds(5));
  }
  pid_ = -1;
  return code;
}

std::string authd_process::stderr_text() const { return slurp(dir_ / "stderr.txt"); }
std::string authd_process::stdout_text() const { return slurp(dir_ / "stdout.txt"); }

run_result run_program(const std::vector<std::string>& argv, const std::string& stdin_text,
                       std::chrono::seconds deadline, const std::filesystem::path& cwd) {
  auto dir = fresh_test_dir("run");
  auto in_path = dir / "stdin.txt";
  std::ofstream(in_path) << stdin_text;
  int in_fd = ::open(in_path.c_str(), O_RDONLY);
  pid_t pid = spawn(argv, cwd, (dir / "out.txt").string(), (dir / "err.txt").string(), in_fd);
  ::close(in_fd);
  run_result r;
  r.exit_code = wait_exit(pid, deadline);
  if (r.exit_code == -1) {
    ::kill(pid, SIGKILL);
    wait_exit(pid, seconds(5));
  }
  r.out = slurp(dir / "out.txt");
  r.err = slurp(dir / "err.txt");
  std::filesystem::remove_all(dir);
  return r;
}

std::string http_get(uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

bool eventually(const std::function<bool()>& condition, milliseconds deadline) {
  auto until = steady_clock::now() + deadline;
  while (steady_clock::now() < until) {
    if (condition())
      return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return condition();
}

const std::string generous_limits =
    "[limiter.user]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n"
    "[limiter.ip]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n"
    "[limiter.user_ip]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n";

const std::string drills = "[testing]\nfault_injection = true\n"
                           "[limiter.user]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n"
                           "[limiter.user_ip]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n";

std::string token_of(net::client& c, const std::string& user, const std::string& password) {
  auto r = c.login(user, password);
  if (!r.ok)
    throw std::runtime_error("login failed: " + r.error);
  return r.as<net::login_reply>().token;
}

double metric(uint16_t monitor_port, const std::string& series) {
  auto text = http_get(monitor_port, "/metrics");
  auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

}  // namespace castellan::test
