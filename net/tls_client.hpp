// TLS for the client library (net/client.hpp): OpenSSL over the client's own
// non-blocking socket, with send/recv that behave like the system calls, so
// the client's poll loop stays the same with or without TLS.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

namespace castellan::net {

// What a client needs to speak TLS to a node (authctl/authbench: --tls,
// --ca FILE, --cert FILE --key FILE, --server-name NAME).
struct tls_options {
  bool enabled = false;
  std::string ca_file;      // PEM CAs that sign the node's certificate; empty: the system's CAs
  std::string cert_file;    // this client's certificate (mutual TLS), PEM
  std::string key_file;     // its private key, PEM
  // The name the node's certificate must carry; empty: the host connected to
  // (an IP address is checked against the certificate's IP entries).
  std::string server_name;
};

class tls_session {
 public:
  // Shakes hands over `fd` (connected, non-blocking) until `deadline`.
  // Throws std::runtime_error saying why it failed (OpenSSL's reason, the
  // certificate check's verdict).
  static std::unique_ptr<tls_session> open(int fd, const tls_options& options, const std::string& host,
                                           std::chrono::steady_clock::time_point deadline);
  ~tls_session();
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  // As send(2)/recv(2) on a non-blocking socket: bytes moved; recv 0 is the
  // node's close; -1 with errno EAGAIN means wait for wanted_events().
  // Any other failure is -1 with errno EPROTO, and failure() says why.
  ssize_t send(const char* data, size_t n);
  ssize_t recv(char* data, size_t n);
  // Decrypted bytes OpenSSL holds that poll() cannot see.
  bool pending() const;
  // POLLIN or POLLOUT: what the last EAGAIN waits for (TLS may need to read to write).
  short wanted_events() const { return wanted_; }
  const std::string& failure() const { return failure_; }

 private:
  struct state;
  explicit tls_session(std::unique_ptr<state> s);
  ssize_t result(int rc, const char* what);
  std::unique_ptr<state> state_;
  short wanted_ = 0;
  std::string failure_;
};

}  // namespace castellan::net
