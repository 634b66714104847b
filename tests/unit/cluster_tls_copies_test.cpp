// The in-memory copies CAF reads the cluster certificate and key from, and
// the renewal that lands between CAF's two reads of them
// (actors/cluster/cluster_tls.hpp, openssl_matching_key.cpp).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "actors/cluster/cluster_tls.hpp"

namespace castellan::actors {
namespace {

struct pem_pair {
  std::string cert, key;
};

std::string pem_of(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

// A self-signed P-256 certificate for CN=`name`, made in memory.
pem_pair self_signed(const std::string& name) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  auto* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), subject);
  X509_set_pubkey(cert.get(), key.get());
  X509_sign(cert.get(), key.get(), EVP_sha256());
  std::unique_ptr<BIO, decltype(&BIO_free)> c(BIO_new(BIO_s_mem()), BIO_free), k(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(c.get(), cert.get());
  PEM_write_bio_PrivateKey(k.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return {pem_of(c.get()), pem_of(k.get())};
}

cluster_tls_material material_of(const pem_pair& p) {
  cluster_tls_material m;
  m.chain_and_key = p.cert + "\n" + p.key;
  m.ca = p.cert;
  return m;
}

std::string common_name(SSL_CTX* ctx) {
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(SSL_CTX_get0_certificate(ctx)), NID_commonName, cn,
                            sizeof cn);
  return cn;
}

// CAF loads the chain, then the key, each by opening the copy anew. A
// renewal between the two would pair the old certificate with the new key;
// the key load reads both again instead, and the pair matches.
TEST(ClusterTlsCopies, ARenewalBetweenCafsTwoReadsStillLoadsAMatchingPair) {
  auto a = self_signed("member-a"), b = self_signed("member-a-renewed");
  cluster_tls_copies copies(material_of(a));
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_method()), SSL_CTX_free);
  auto path = copies.chain_and_key_path();
  ASSERT_EQ(SSL_CTX_use_certificate_chain_file(ctx.get(), path.c_str()), 1);
  EXPECT_EQ(common_name(ctx.get()), "member-a");
  copies.replace(material_of(b));
  ASSERT_EQ(SSL_CTX_use_PrivateKey_file(ctx.get(), path.c_str(), SSL_FILETYPE_PEM), 1);
  EXPECT_EQ(SSL_CTX_check_private_key(ctx.get()), 1);
  EXPECT_EQ(common_name(ctx.get()), "member-a-renewed");
}

// An operator's own files that do not match still fail: only the node's
// copies are read again.
TEST(ClusterTlsCopies, AMismatchedPairInOrdinaryFilesStillFails) {
  auto a = self_signed("a"), b = self_signed("b");
  auto dir = std::filesystem::temp_directory_path() / ("castellan-copies-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "pair.pem") << a.cert << "\n" << b.key;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_method()), SSL_CTX_free);
  auto file = (dir / "pair.pem").string();
  ASSERT_EQ(SSL_CTX_use_certificate_chain_file(ctx.get(), file.c_str()), 1);
  EXPECT_NE(SSL_CTX_use_PrivateKey_file(ctx.get(), file.c_str(), SSL_FILETYPE_PEM), 1);
  ERR_clear_error();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace castellan::actors
