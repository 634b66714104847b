// The client port's TLS material ([server.tls]): an Asio SSL context built
// from the certificate, key and client-CA files, and what a connection learns
// of its client's certificate. A context is immutable once built; a reload
// builds a new one and connections accepted afterwards take it, while open
// connections keep theirs. Internal to net/.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "config/config.hpp"
#include "config/file_stamp.hpp"
#include "net/backend.hpp"

namespace castellan::net {

// A file that cannot be loaded; what() names the key, the path and OpenSSL's
// reason, never a file's contents.
struct tls_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct server_tls {
  std::shared_ptr<boost::asio::ssl::context> context;
  int64_t not_after_s = 0;  // the certificate's expiry (Unix seconds)
};

// Builds the context; throws tls_error.
server_tls make_server_tls(const config::tls_config& cfg);

// The stamps of the configured files, to notice that one changed.
std::vector<config::file_stamp> tls_file_stamps(const config::tls_config& cfg);

// The verified client certificate of a TLS connection (`ssl` is its SSL*):
// its SHA-256 and its names, "CN=<subject common name>", "DNS:<name>" and
// "URI:<uri>" for each subjectAltName of those kinds; null when the client
// sent none.
std::shared_ptr<const certificate_identity> client_certificate_of(void* ssl);

}  // namespace castellan::net
