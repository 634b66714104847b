// Every SSL_read, SSL_write, SSL_accept and SSL_connect in the process
// starts with an empty OpenSSL error queue, as OpenSSL requires for
// SSL_get_error to be right ("The current thread's error queue must be empty
// before the TLS/SSL I/O operation is attempted").
//
// Why here: CAF 0.17.6's OpenSSL sessions (libcaf_openssl, session.cpp) drain
// the queue only inside CAF_LOG_INFO, which Debian's build compiles out. One
// failed handshake on the cluster port (a stranger's certificate, a port
// scan, a connection closed as redundant) leaves its error on the middleman's
// thread, and from then on every member connection's next would-block read is
// taken for a failure: all of them close, and no new one forms. CAF cannot be
// patched here (Debian's package), so these definitions in the executable
// come first in symbol lookup, for libcaf_openssl and for everyone else, and
// hand on to libssl's. Boost.Asio clears the queue before each call itself,
// so for the client port's TLS this changes nothing.
//
// The dynamic linker binds libcaf_openssl's references to these because the
// executable defines them and exports them (ld exports a definition that a
// shared library in the link refers to). tests/cluster/cluster_tls_test.cpp
// (ANodeWithoutACertificateFromTheClusterCaCannotJoin) fails without it.
#include <dlfcn.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

template <class Fn>
Fn libssl(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

#define CASTELLAN_EXPORTED __attribute__((visibility("default")))

extern "C" {

CASTELLAN_EXPORTED int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = libssl<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

CASTELLAN_EXPORTED int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = libssl<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

CASTELLAN_EXPORTED int SSL_accept(SSL* ssl) {
  static auto real = libssl<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

CASTELLAN_EXPORTED int SSL_connect(SSL* ssl) {
  static auto real = libssl<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

}  // extern "C"
