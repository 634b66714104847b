// See tls_channel.hpp. OpenSSL's error queue is per thread and must be empty
// before each call whose outcome SSL_get_error judges: it is emptied once
// per read or write (each SSL call that succeeds leaves it empty) and
// drained into the error code after a failure, so nothing stale reaches the
// next connection served by the same thread.
#include "net/tls_channel.hpp"

#include <cerrno>
#include <algorithm>
#include <climits>
#include <new>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace castellan::net {

namespace {

int clamp(size_t n) { return static_cast<int>(std::min<size_t>(n, INT_MAX)); }

// Empties this thread's error queue, which is nearly always empty already:
// clearing costs a walk over all its slots, looking costs one.
void empty_error_queue() {
  if (ERR_peek_error() != 0)
    ERR_clear_error();
}

boost::system::error_code openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0)  // a failure that left no reason must still read as a failure
    return make_error_code(boost::system::errc::protocol_error);
  return {static_cast<int>(code), boost::asio::error::get_ssl_category()};
}

}  // namespace

tls_channel::tls_channel(ssl_ctx_st* context, int fd) : ssl_(SSL_new(context)) {
  if (!ssl_ || SSL_set_fd(ssl_, fd) != 1) {
    SSL_free(ssl_);
    ERR_clear_error();
    throw std::bad_alloc();
  }
  SSL_set_accept_state(ssl_);
  // OpenSSL 3 treats a TCP EOF without close_notify as a fatal error, which
  // would end the session's sending side too: a client that half-closes
  // (ours does, after the drain notice) must still get every reply. Our
  // frames say whether anything was cut, so that EOF is a close.
  SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  BIO* socket = SSL_get_rbio(ssl_);
  BIO_set_callback_arg(socket, reinterpret_cast<char*>(this));
  BIO_set_callback_ex(socket, &tls_channel::note_receive);
  // One recv takes whatever the socket holds, many records at once.
  SSL_set_read_ahead(ssl_, 1);
  // A write may stop after any whole record and be resumed with the rest
  // from another address (the connection's buffer may move meanwhile).
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

tls_channel::~tls_channel() { SSL_free(ssl_); }

// After each receive of the socket BIO: whether it emptied the socket. A
// receive shorter than asked for did (TCP hands over all it has), as did
// EAGAIN; a full one may have left more behind.
long tls_channel::note_receive(BIO* bio, int oper, const char*, size_t len, int, long, int ret,
                               size_t* processed) {
  if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
    auto* self = reinterpret_cast<tls_channel*>(BIO_get_callback_arg(bio));
    self->drained_ = ret <= 0 ? BIO_should_retry(bio) != 0 : *processed < len;
  }
  return ret;
}

tls_io tls_channel::outcome(int rc, size_t bytes) {
  auto out = classify(rc, bytes);
  if (out.step == tls_step::failed)
    failure_ = out.error;  // OpenSSL answers later calls as if the peer had closed
  return out;
}

tls_io tls_channel::classify(int rc, size_t bytes) {
  int saved_errno = errno;
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ:
      return {bytes, tls_step::want_read, {}};
    case SSL_ERROR_WANT_WRITE:
      return {bytes, tls_step::want_write, {}};
    case SSL_ERROR_ZERO_RETURN:
      return {bytes, tls_step::closed, {}};
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        if (saved_errno == 0)
          return {bytes, tls_step::closed, {}};  // TCP EOF without close_notify
        return {bytes, tls_step::failed, {saved_errno, boost::system::system_category()}};
      }
      [[fallthrough]];
    default:
      return {bytes, tls_step::failed, openssl_error()};
  }
}

tls_io tls_channel::handshake() {
  if (failure_)
    return {0, tls_step::failed, failure_};
  empty_error_queue();
  errno = 0;
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1)
    return {};
  auto out = outcome(rc, 0);
  if (out.step == tls_step::closed)  // gone before the handshake completed
    out = {0, tls_step::failed, boost::asio::ssl::error::stream_truncated};
  return out;
}

tls_io tls_channel::read(char* into, size_t room) {
  if (failure_)
    return {0, tls_step::failed, failure_};
  empty_error_queue();
  size_t got = 0;
  drained_ = false;
  while (got < room) {
    errno = 0;
    int rc = SSL_read(ssl_, into + got, clamp(room - got));
    if (rc <= 0) {
      auto out = outcome(rc, got);
      out.drained = out.step == tls_step::want_read;
      return out;
    }
    got += static_cast<size_t>(rc);
    if (drained_ && SSL_has_pending(ssl_) == 0)
      return {got, tls_step::done, {}, true};  // a further read would only hear EAGAIN
  }
  return {got, tls_step::done, {}};
}

tls_io tls_channel::write(const char* data, size_t n) {
  if (failure_)
    return {0, tls_step::failed, failure_};
  empty_error_queue();
  size_t sent = 0;
  while (sent < n) {
    errno = 0;
    int rc = SSL_write(ssl_, data + sent, clamp(n - sent));
    if (rc <= 0)
      return outcome(rc, sent);
    sent += static_cast<size_t>(rc);
  }
  return {sent, tls_step::done, {}};
}

tls_io tls_channel::close_notify() {
  if (failure_)
    return {0, tls_step::failed, failure_};
  empty_error_queue();
  errno = 0;
  int rc = SSL_shutdown(ssl_);  // 0: ours is sent; 1: theirs had come too
  if (rc >= 0)
    return {};
  return outcome(rc, 0);
}

bool tls_channel::pending() const { return SSL_has_pending(ssl_) == 1; }

}  // namespace castellan::net
