// The TLS flags every client program takes (authctl, authbench), defined
// once: --tls, --ca FILE, --cert FILE --key FILE, --server-name NAME.
#pragma once

#include <CLI/CLI.hpp>

#include "net/tls_client.hpp"

namespace castellan::tools {

inline void add_tls_flags(CLI::App& app, net::tls_options& tls) {
  app.add_flag("--tls", tls.enabled, "Connect with TLS (implied by --ca and --cert)");
  app.add_option("--ca", tls.ca_file, "PEM file of the CAs that sign the node's certificate "
                                      "(default: the system's)")
      ->check(CLI::ExistingFile);
  auto* cert = app.add_option("--cert", tls.cert_file, "This client's certificate, PEM (mutual TLS)")
                   ->check(CLI::ExistingFile);
  auto* key = app.add_option("--key", tls.key_file, "The private key of --cert, PEM")
                  ->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  app.add_option("--server-name", tls.server_name,
                 "Name the node's certificate must carry (default: --host)");
}

// After parsing: --ca and --cert say TLS without --tls.
inline void settle_tls_flags(net::tls_options& tls) {
  tls.enabled = tls.enabled || !tls.ca_file.empty() || !tls.cert_file.empty();
}

}  // namespace castellan::tools
