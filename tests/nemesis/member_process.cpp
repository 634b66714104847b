// member_process; see member_process.hpp.
#include "tests/nemesis/member_process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace castellan::nemesis {

using namespace std::chrono;

member_process::member_process(std::filesystem::path dir, gid_t gid) : dir_(std::move(dir)), gid_(gid) {}

member_process::~member_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait_exit(seconds(10));
  }
}

void member_process::start(milliseconds deadline) {
  if (pid_ > 0)
    throw std::logic_error("member already running");
  auto ready = dir_ / "ready.json";
  std::filesystem::remove(ready);
  // Everything the child needs is prepared before fork: between fork and
  // exec only async-signal-safe calls (other threads are running).
  std::vector<std::string> argv_s = {CASTELLAN_AUTHD, "--config", (dir_ / "authd.toml").string(),
                                     "--ready-file", ready.string()};
  std::vector<char*> argv;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  auto err_path = (dir_ / "stderr.txt").string();
  auto out_path = (dir_ / "stdout.txt").string();
  auto cwd = dir_.string();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Dies with the thread that started it: no member outlives a crashed test.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(126);
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::chdir(cwd.c_str()) != 0)
      ::_exit(125);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  frozen_ = false;
  ++starts_;
  auto until = steady_clock::now() + deadline;
  while (steady_clock::now() < until) {
    if (std::filesystem::exists(ready))
      return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("authd in " + dir_.string() + " exited at start: " + stderr_tail());
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  throw std::runtime_error("authd in " + dir_.string() + " not ready after " +
                           std::to_string(deadline.count()) + " ms: " + stderr_tail());
}

int member_process::wait_exit(milliseconds deadline) {
  auto until = steady_clock::now() + deadline;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      frozen_ = false;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (r < 0) {
      pid_ = -1;
      return -1;
    }
    if (steady_clock::now() >= until)
      return -2;
    std::this_thread::sleep_for(milliseconds(5));
  }
}

void member_process::kill9() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  wait_exit(seconds(10));
}

int member_process::terminate(milliseconds deadline) {
  if (pid_ <= 0)
    return -1;
  if (frozen_)
    thaw();
  ::kill(pid_, SIGTERM);
  int code = wait_exit(deadline);
  if (code == -2) {
    ::kill(pid_, SIGKILL);
    wait_exit(seconds(10));
    return -1;
  }
  return code;
}

void member_process::freeze() {
  if (pid_ > 0 && ::kill(pid_, SIGSTOP) == 0)
    frozen_ = true;
}

void member_process::thaw() {
  if (pid_ > 0 && ::kill(pid_, SIGCONT) == 0)
    frozen_ = false;
}

std::string member_process::stderr_tail(size_t bytes) const {
  std::ifstream in(dir_ / "stderr.txt");
  std::stringstream s;
  s << in.rdbuf();
  auto text = s.str();
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace castellan::nemesis
