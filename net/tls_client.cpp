// See tls_client.hpp. The node's certificate is always verified: against the
// given CA file (or the system's), and its name against server_name or the
// host. A client built with the same options shares one SSL_CTX, so a load
// generator's thousand connections read the files once.
#include "net/tls_client.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>

namespace castellan::net {
namespace {

using clock = std::chrono::steady_clock;

// OpenSSL's error queue as one line (and emptied).
std::string drain_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty())
      out += "; ";
    // "error:0A000086:SSL routines::certificate verify failed" -> the reason
    std::string text = buf;
    auto colon = text.rfind(':');
    out += colon == std::string::npos ? text : text.substr(colon + 1);
  }
  return out.empty() ? "connection closed during the TLS handshake" : out;
}

struct ctx_deleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using ctx_ptr = std::shared_ptr<SSL_CTX>;

ctx_ptr build_context(const tls_options& o) {
  ctx_ptr ctx(SSL_CTX_new(TLS_client_method()), ctx_deleter{});
  if (!ctx)
    throw std::runtime_error("TLS: " + drain_errors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  int loaded = o.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx.get())
                                 : SSL_CTX_load_verify_locations(ctx.get(), o.ca_file.c_str(), nullptr);
  if (loaded != 1)
    throw std::runtime_error("TLS: cannot load the CA file " + o.ca_file + ": " + drain_errors());
  if (!o.cert_file.empty() || !o.key_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.cert_file.c_str()) != 1)
      throw std::runtime_error("TLS: cannot load the certificate " + o.cert_file + ": " + drain_errors());
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), o.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error("TLS: cannot load the key " + o.key_file + ": " + drain_errors());
    if (SSL_CTX_check_private_key(ctx.get()) != 1)
      throw std::runtime_error("TLS: the key " + o.key_file + " does not match " + o.cert_file);
  }
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

// One context per distinct set of files, shared while any client uses it.
ctx_ptr context_for(const tls_options& o) {
  static std::mutex mutex;
  static std::map<std::tuple<std::string, std::string, std::string>, std::weak_ptr<SSL_CTX>> cache;
  std::lock_guard<std::mutex> guard(mutex);
  auto& slot = cache[{o.ca_file, o.cert_file, o.key_file}];
  if (auto live = slot.lock())
    return live;
  auto fresh = build_context(o);
  slot = fresh;
  return fresh;
}

bool is_ip(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// OpenSSL writes to the socket with write(2): a node that closed the
// connection would kill the client with SIGPIPE, where the plaintext path's
// MSG_NOSIGNAL gets EPIPE. SIGPIPE is blocked in this thread around each
// call, and one it raised is taken before unblocking (as libcurl does).
class sigpipe_guard {
 public:
  sigpipe_guard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~sigpipe_guard() {
    if (!was_pending_) {
      timespec zero{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

int remaining_ms(clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

}  // namespace

struct tls_session::state {
  ctx_ptr ctx;
  SSL* ssl = nullptr;
  ~state() {
    if (ssl)
      SSL_free(ssl);
  }
};

tls_session::tls_session(std::unique_ptr<state> s) : state_(std::move(s)) {}
tls_session::~tls_session() = default;

std::unique_ptr<tls_session> tls_session::open(int fd, const tls_options& options,
                                               const std::string& host, clock::time_point deadline) {
  auto s = std::make_unique<state>();
  s->ctx = context_for(options);
  s->ssl = SSL_new(s->ctx.get());
  if (!s->ssl)
    throw std::runtime_error("TLS: " + drain_errors());
  const std::string& name = options.server_name.empty() ? host : options.server_name;
  // Each must take, or the node's name would go unchecked.
  bool named = SSL_set_fd(s->ssl, fd) == 1 &&
               (is_ip(name) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), name.c_str()) == 1
                            : SSL_set_tlsext_host_name(s->ssl, name.c_str()) == 1 &&
                                  SSL_set1_host(s->ssl, name.c_str()) == 1);
  if (!named)
    throw std::runtime_error("TLS: cannot check the node's name " + name + ": " + drain_errors());
  sigpipe_guard no_sigpipe;
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int rc = SSL_connect(s->ssl);
    if (rc == 1)
      break;
    int err = SSL_get_error(s->ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      pollfd p{fd, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      int polled = ::poll(&p, 1, remaining_ms(deadline));
      if (polled < 0 && errno == EINTR)
        continue;
      if (polled <= 0)
        throw std::runtime_error("TLS handshake with " + host + " timed out");
      continue;
    }
    int sys_errno = errno;
    long verdict = SSL_get_verify_result(s->ssl);
    std::string why = verdict != X509_V_OK
                          ? std::string("the node's certificate: ") + X509_verify_cert_error_string(verdict)
                      : err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && sys_errno != 0
                          ? std::string(std::strerror(sys_errno))
                          : drain_errors();
    ERR_clear_error();
    throw std::runtime_error("TLS handshake with " + host + " failed: " + why);
  }
  return std::unique_ptr<tls_session>(new tls_session(std::move(s)));
}

ssize_t tls_session::result(int rc, const char* what) {
  if (rc > 0)
    return rc;
  int err = SSL_get_error(state_->ssl, rc);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      wanted_ = POLLIN;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      wanted_ = POLLOUT;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;  // the node's close_notify
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        if (errno == 0)
          return 0;  // EOF without close_notify: framing says whether anything was cut
        return -1;   // errno from the socket
      }
      [[fallthrough]];
    default:
      failure_ = std::string(what) + ": " + drain_errors();
      errno = EPROTO;
      return -1;
  }
}

ssize_t tls_session::send(const char* data, size_t n) {
  sigpipe_guard no_sigpipe;
  ERR_clear_error();
  errno = 0;
  return result(SSL_write(state_->ssl, data, static_cast<int>(std::min<size_t>(n, 1 << 30))), "TLS write");
}

ssize_t tls_session::recv(char* data, size_t n) {
  sigpipe_guard no_sigpipe;  // reading may write (a key update's answer)
  ERR_clear_error();
  errno = 0;
  return result(SSL_read(state_->ssl, data, static_cast<int>(std::min<size_t>(n, 1 << 30))), "TLS");
}

bool tls_session::pending() const { return SSL_pending(state_->ssl) > 0; }

}  // namespace castellan::net
