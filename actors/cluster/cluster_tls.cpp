// See cluster_tls.hpp.
#include "actors/cluster/cluster_tls.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <sodium.h>

#include "actors/runtime/atoms.hpp"
#include "config/logging.hpp"
#include "net/certificate_files.hpp"

namespace castellan::actors {
namespace {

[[noreturn]] void fail(const char* key, const std::string& path, const std::string& why) {
  throw cluster_tls_error("cluster.tls." + std::string(key) + " (" + path + "): " + why);
}

// OpenSSL's reason for the last failure, and an empty error queue after.
std::string openssl_reason() {
  auto code = ERR_peek_last_error();
  const char* reason = code ? ERR_reason_error_string(code) : nullptr;
  std::string text = reason ? reason : "no details";
  ERR_clear_error();
  return text;
}

std::string read_whole(const char* key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(key, path, std::string("cannot read: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// An encrypted key would make OpenSSL prompt on the terminal: refuse it.
int no_password(char*, int, int, void*) { return 0; }

struct bio_deleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct x509_deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct store_deleter {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct store_ctx_deleter {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct chain_deleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;
using x509_ptr = std::unique_ptr<X509, x509_deleter>;
using chain_ptr = std::unique_ptr<STACK_OF(X509), chain_deleter>;

bio_ptr memory_bio(const std::string& text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Every PEM certificate in `text`, in order (none: empty).
std::vector<x509_ptr> certificates_in(const std::string& text) {
  std::vector<x509_ptr> out;
  auto bio = memory_bio(text);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr))
    out.emplace_back(cert);
  ERR_clear_error();  // the end of the text reads as "no start line"
  return out;
}

// Whether the cluster CA accepts `leaf` (with its chain) for `purpose`; the
// reason when not.
std::string refusal(X509_STORE* cas, X509* leaf, STACK_OF(X509) * chain, int purpose) {
  std::unique_ptr<X509_STORE_CTX, store_ctx_deleter> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), cas, leaf, chain) != 1)
    return "cannot check it: " + openssl_reason();
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  if (X509_verify_cert(ctx.get()) == 1)
    return "";
  auto why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  ERR_clear_error();
  return why;
}

int memory_file(const std::string& contents) {
  int fd = ::memfd_create("castellan-cluster-tls", MFD_CLOEXEC);
  if (fd < 0)
    throw cluster_tls_error(std::string("cluster.tls: memfd_create: ") + std::strerror(errno));
  for (size_t done = 0; done < contents.size();) {
    auto n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      throw cluster_tls_error(std::string("cluster.tls: writing a memfd: ") + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  return fd;
}

// `fd` takes the contents of a new memory file; an open() of its
// /proc/self/fd path sees the old or the new file, never a mix.
// Puts `next` (a memory file) in place of `fd` and closes it.
void move_memory_file(int next, int fd) {
  int rc = ::dup3(next, fd, O_CLOEXEC);
  int err = errno;
  ::close(next);
  if (rc < 0)
    throw cluster_tls_error(std::string("cluster.tls: dup3: ") + std::strerror(err));
}

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Key material is zeroed before its memory goes back, on every path out.
struct wiped_on_exit {
  std::string& text;
  ~wiped_on_exit() { sodium_memzero(text.data(), text.size()); }
};

}  // namespace

cluster_tls_material::~cluster_tls_material() {
  sodium_memzero(chain_and_key.data(), chain_and_key.size());
}

cluster_tls_material load_cluster_tls(const config::cluster_tls_config& cfg) {
  auto chain_text = read_whole("cert_file", cfg.cert_file);
  auto key_text = read_whole("key_file", cfg.key_file);
  wiped_on_exit key_wiped{key_text};
  auto ca_text = read_whole("ca_file", cfg.ca_file);
  auto certs = certificates_in(chain_text);
  if (certs.empty())
    fail("cert_file", cfg.cert_file, "holds no PEM certificate");
  auto key_bio = memory_bio(key_text);
  std::unique_ptr<EVP_PKEY, pkey_deleter> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_password, nullptr));
  if (!key)
    fail("key_file", cfg.key_file, "holds no unencrypted PEM private key (" + openssl_reason() + ")");
  X509* leaf = certs.front().get();
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    fail("key_file", cfg.key_file, "is not the key of cluster.tls.cert_file's certificate");
  }
  auto cas = certificates_in(ca_text);
  if (cas.empty())
    fail("ca_file", cfg.ca_file, "holds no PEM certificate");
  std::unique_ptr<X509_STORE, store_deleter> store(X509_STORE_new());
  for (auto& ca : cas)
    X509_STORE_add_cert(store.get(), ca.get());
  chain_ptr chain(sk_X509_new_null());
  for (size_t i = 1; i < certs.size(); ++i) {
    X509_up_ref(certs[i].get());
    sk_X509_push(chain.get(), certs[i].get());
  }
  // A member is the server of the connections it accepts and the client of
  // those it opens: the cluster CA must accept its certificate as both.
  for (auto [purpose, as] : {std::pair{X509_PURPOSE_SSL_SERVER, "a TLS server"},
                             {X509_PURPOSE_SSL_CLIENT, "a TLS client"}}) {
    auto why = refusal(store.get(), leaf, chain.get(), purpose);
    if (!why.empty())
      fail("cert_file", cfg.cert_file,
           std::string("the cluster CA (cluster.tls.ca_file) does not accept it as ") + as + ": " +
               why);
  }
  net::warn_if_world_readable("cluster.tls.key_file", cfg.key_file);
  cluster_tls_material m;
  m.chain_and_key = chain_text + "\n" + key_text;
  m.ca = std::move(ca_text);
  m.not_after_s = net::not_after_seconds(leaf);
  return m;
}

std::vector<config::file_stamp> cluster_tls_stamps(const config::cluster_tls_config& cfg) {
  return {config::stamp_of(cfg.cert_file), config::stamp_of(cfg.key_file),
          config::stamp_of(cfg.ca_file)};
}

cluster_tls_copies::cluster_tls_copies(const cluster_tls_material& first) {
  chain_and_key_fd_ = memory_file(first.chain_and_key);
  try {
    ca_fd_ = memory_file(first.ca);
  } catch (...) {
    ::close(chain_and_key_fd_);
    throw;
  }
}

cluster_tls_copies::~cluster_tls_copies() {
  ::close(chain_and_key_fd_);
  ::close(ca_fd_);
}

std::string cluster_tls_copies::chain_and_key_path() const { return fd_path(chain_and_key_fd_); }
std::string cluster_tls_copies::ca_path() const { return fd_path(ca_fd_); }

// Both new copies are made before either is swapped in: a failure leaves
// the pair in force untouched, never a new CA beside the old certificate.
void cluster_tls_copies::replace(const cluster_tls_material& next) {
  int ca = memory_file(next.ca);
  int chain_and_key = -1;
  try {
    chain_and_key = memory_file(next.chain_and_key);
  } catch (...) {
    ::close(ca);
    throw;
  }
  move_memory_file(ca, ca_fd_);
  move_memory_file(chain_and_key, chain_and_key_fd_);
}

namespace {

struct cluster_tls_watch_state {
  config::cluster_tls_config cfg;
  std::shared_ptr<cluster_tls_copies> copies;
  cluster_metrics* metrics = nullptr;
  std::vector<config::file_stamp> seen;
  static inline const char* name = "cluster_tls_watch";
};

// Loads the files and swaps them in. A failure is logged once per version
// of the files: the next change (a renewal finished writing) tries again.
bool reload(cluster_tls_watch_state& st) {
  st.seen = cluster_tls_stamps(st.cfg);
  try {
    auto next = load_cluster_tls(st.cfg);
    st.copies->replace(next);
    if (st.metrics) {
      st.metrics->tls_reloads_ok->Increment();
      st.metrics->tls_certificate_expiry->Set(static_cast<double>(next.not_after_s));
    }
    spdlog::info("cluster: TLS certificate, key and CA reloaded; new member connections use them");
    return true;
  } catch (const std::exception& e) {
    if (st.metrics)
      st.metrics->tls_reloads_failed->Increment();
    spdlog::error("cluster: TLS files not reloaded, keeping those in force: {}", e.what());
    return false;
  }
}

caf::behavior cluster_tls_watch(caf::stateful_actor<cluster_tls_watch_state>* self,
                                config::cluster_tls_config cfg,
                                std::shared_ptr<cluster_tls_copies> copies,
                                cluster_metrics* metrics) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.copies = std::move(copies);
  st.metrics = metrics;
  st.seen = cluster_tls_stamps(st.cfg);  // the node loaded these at start
  auto interval = std::chrono::milliseconds(st.cfg.reload_interval_ms);
  self->delayed_send(self, interval, tick_atom_v);
  return {
    [=](tick_atom) {
      auto& st = self->state;
      if (cluster_tls_stamps(st.cfg) != st.seen)
        reload(st);
      self->delayed_send(self, interval, tick_atom_v);
    },
    [=](reload_atom) { return reload(self->state); },
  };
}

}  // namespace

caf::actor spawn_cluster_tls_watch(caf::actor_system& sys, config::cluster_tls_config cfg,
                                   std::shared_ptr<cluster_tls_copies> copies,
                                   cluster_metrics* metrics) {
  // Detached: it reads files, which no scheduler thread may wait for.
  return sys.spawn<caf::detached>(cluster_tls_watch, std::move(cfg), std::move(copies), metrics);
}

}  // namespace castellan::actors
