// What the client port's TLS ([server.tls]) and the cluster port's
// ([cluster.tls]) both say about their certificate and key files.
#pragma once

#include <cstdint>
#include <string>

#include <openssl/x509.h>

namespace castellan::net {

// A certificate's notAfter in Unix seconds (0 without one), for the
// *_certificate_expiry_timestamp_seconds gauges.
int64_t not_after_seconds(const X509* cert);

// Warns when `path`, the file config key `key` names, is readable by every
// user. Not the group: a key 0640 to Debian's ssl-cert group is the packaged
// way to share one.
void warn_if_world_readable(const std::string& key, const std::string& path);

}  // namespace castellan::net
