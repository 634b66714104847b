// See certificate_files.hpp.
#include "net/certificate_files.hpp"

#include <sys/stat.h>

#include <openssl/asn1.h>

#include <ctime>

#include "config/logging.hpp"

namespace castellan::net {

int64_t not_after_seconds(const X509* cert) {
  std::tm tm{};
  if (!cert || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
    return 0;
  return static_cast<int64_t>(timegm(&tm));
}

void warn_if_world_readable(const std::string& key, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH))
    spdlog::warn("{} ({}) is readable by every user on this machine; chmod 600 it", key, path);
}

}  // namespace castellan::net
