// TLS between members ([cluster.tls]) through CAF's OpenSSL module.
//
// CAF reads the certificate, key and CA files by path each time it opens or
// accepts a connection, and a file it cannot load there throws on its
// network thread. So CAF never reads the operator's files: the node checks
// them (the key matches the certificate, the cluster CA accepts it for both
// ends of a connection) and hands CAF in-memory copies (memfd, at
// /proc/self/fd/N). A renewal replaces a copy in one dup2 once the new files
// check out; a bad one changes nothing. The key never lands in another file.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/cluster/cluster_metrics.hpp"
#include "config/config.hpp"
#include "config/file_stamp.hpp"

namespace castellan::actors {

// A file that does not load or check out; what() names the key, the path
// and why, never a file's contents.
struct cluster_tls_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The files of one [cluster.tls], checked.
struct cluster_tls_material {
  cluster_tls_material() = default;
  cluster_tls_material(const cluster_tls_material&) = default;
  cluster_tls_material(cluster_tls_material&&) = default;
  cluster_tls_material& operator=(const cluster_tls_material&) = default;
  cluster_tls_material& operator=(cluster_tls_material&&) = default;
  ~cluster_tls_material();  // zeroes the key's copy
  std::string chain_and_key;  // the certificate chain, then the key (PEM)
  std::string ca;             // the cluster CA (PEM)
  int64_t not_after_s = 0;    // the certificate's expiry (Unix seconds)
};

// Reads and checks the files; throws cluster_tls_error.
cluster_tls_material load_cluster_tls(const config::cluster_tls_config& cfg);

// The stamps of the configured files, to notice that one changed.
std::vector<config::file_stamp> cluster_tls_stamps(const config::cluster_tls_config& cfg);

// The in-memory copies CAF reads: paths that stay the same while their
// contents are replaced whole.
class cluster_tls_copies {
 public:
  explicit cluster_tls_copies(const cluster_tls_material& first);
  ~cluster_tls_copies();
  cluster_tls_copies(const cluster_tls_copies&) = delete;
  cluster_tls_copies& operator=(const cluster_tls_copies&) = delete;

  std::string chain_and_key_path() const;  // for CAF's openssl.certificate and openssl.key
  std::string ca_path() const;             // for CAF's openssl.cafile
  // Swaps in new contents; a connection opened afterwards reads them.
  void replace(const cluster_tls_material& next);

 private:
  int chain_and_key_fd_ = -1;
  int ca_fd_ = -1;
};

// A detached actor that re-checks the files every reload_interval_ms when
// one changed, and at once on reload_atom (SIGHUP; it answers whether they
// loaded), and swaps in those that check out; it counts each try and sets
// the expiry gauge.
caf::actor spawn_cluster_tls_watch(caf::actor_system& sys, config::cluster_tls_config cfg,
                                   std::shared_ptr<cluster_tls_copies> copies,
                                   cluster_metrics* metrics);

}  // namespace castellan::actors
