// See tls_server.hpp. TLS 1.3 unless the config allows 1.2; no older
// version is ever offered. With a client CA, a client certificate is
// required and verified against it (chain, dates, purpose) during the
// handshake, so a connection that completes it carries a verified identity.
#include "net/tls_server.hpp"

#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>

#include "config/logging.hpp"
#include "net/certificate_files.hpp"

namespace castellan::net {
namespace ssl = boost::asio::ssl;

namespace {

[[noreturn]] void fail(const char* key, const std::string& path, const std::string& why) {
  throw tls_error("server.tls." + std::string(key) + " (" + path + "): " + why);
}

// OpenSSL says "asio.ssl error" for a file it cannot open: say why first.
void check_readable(const char* key, const std::string& path) {
  if (!path.empty() && ::access(path.c_str(), R_OK) != 0)
    fail(key, path, std::string("cannot read: ") + std::strerror(errno));
}

std::string openssl_reason(const boost::system::error_code& ec) {
  auto text = ec.message();
  ERR_clear_error();
  return text;
}

}  // namespace

server_tls make_server_tls(const config::tls_config& cfg) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, cfg.min_version == "1.2" ? TLS1_2_VERSION : TLS1_3_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::single_dh_use);
  // TLS 1.2 renegotiation costs the node a handshake at the client's will.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  // An encrypted key would make OpenSSL prompt on the terminal, from the
  // listener's thread on a reload: refuse it instead.
  SSL_CTX_set_default_passwd_cb(native, [](char*, int, int, void*) { return 0; });
  check_readable("cert_file", cfg.cert_file);
  check_readable("key_file", cfg.key_file);
  check_readable("client_ca_file", cfg.client_ca_file);
  boost::system::error_code ec;
  context->use_certificate_chain_file(cfg.cert_file, ec);
  if (ec)
    fail("cert_file", cfg.cert_file, openssl_reason(ec));
  context->use_private_key_file(cfg.key_file, ssl::context::pem, ec);
  if (ec)
    fail("key_file", cfg.key_file, openssl_reason(ec));
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    fail("key_file", cfg.key_file, "the key does not match the certificate in server.tls.cert_file");
  }
  warn_if_world_readable("server.tls.key_file", cfg.key_file);
  if (!cfg.client_ca_file.empty()) {
    context->load_verify_file(cfg.client_ca_file, ec);
    if (ec)
      fail("client_ca_file", cfg.client_ca_file, openssl_reason(ec));
    // Tells clients which CAs' certificates to send.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(cfg.client_ca_file.c_str());
    if (!names) {
      ERR_clear_error();
      fail("client_ca_file", cfg.client_ca_file, "holds no CA certificate");
    }
    SSL_CTX_set_client_CA_list(native, names);
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    // Resumed sessions carry the verified certificate; OpenSSL refuses to
    // resume a verified session without a context id.
    static const unsigned char id[] = "castellan-client-port";
    SSL_CTX_set_session_id_context(native, id, sizeof id - 1);
  }
  return {std::move(context), not_after_seconds(SSL_CTX_get0_certificate(native))};
}

std::vector<config::file_stamp> tls_file_stamps(const config::tls_config& cfg) {
  std::vector<config::file_stamp> out;
  for (auto* path : {&cfg.cert_file, &cfg.key_file, &cfg.client_ca_file})
    out.push_back(path->empty() ? config::file_stamp{} : config::stamp_of(*path));
  return out;
}

std::shared_ptr<const certificate_identity> client_certificate_of(void* handle) {
  auto* ssl = static_cast<SSL*>(handle);
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert)
    return nullptr;
  auto out = std::make_shared<certificate_identity>();
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), out->digest.data(), &n) != 1 || n != out->digest.size()) {
    ERR_clear_error();
    return nullptr;  // no digest, no identity: its logins are refused
  }
  // The subject's CN, as UTF-8 whatever its ASN.1 string type; a subject
  // with several CNs, or one with a NUL inside, names nobody by CN.
  X509_NAME* subject = X509_get_subject_name(cert);
  int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at >= 0 && X509_NAME_get_index_by_NID(subject, NID_commonName, at) < 0) {
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
    if (len > 0) {
      std::string cn(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
      if (cn.find('\0') == std::string::npos)
        out->names.push_back("CN=" + cn);
    }
    OPENSSL_free(utf8);
  }
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type != GEN_DNS && name->type != GEN_URI)
      continue;
    const ASN1_IA5STRING* text = name->type == GEN_DNS ? name->d.dNSName : name->d.uniformResourceIdentifier;
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                      static_cast<size_t>(ASN1_STRING_length(text)));
    if (value.find('\0') == std::string::npos)
      out->names.push_back((name->type == GEN_DNS ? "DNS:" : "URI:") + value);
  }
  GENERAL_NAMES_free(sans);
  ERR_clear_error();
  return out;
}

}  // namespace castellan::net
