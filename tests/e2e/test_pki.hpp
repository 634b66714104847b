// A throwaway PKI for the TLS tests, made at test time with the `openssl`
// command: CAs, the node's certificate (for 127.0.0.1) and client
// certificates, valid or expired. Each file is <dir>/<name>.pem and .key.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace castellan::test {

class test_pki {
 public:
  explicit test_pki(std::filesystem::path dir);
  ~test_pki();  // removes the directory
  test_pki(const test_pki&) = delete;
  const std::filesystem::path& dir() const { return dir_; }

  // A self-signed CA named `name`.
  void make_ca(const std::string& name);
  // A certificate `name` for subject CN `cn`, signed by CA `ca`. `san` is an
  // OpenSSL subjectAltName value ("IP:127.0.0.1,DNS:node"), "" for none.
  // Negative `days`: it expired yesterday.
  void issue(const std::string& name, const std::string& ca, const std::string& cn,
             const std::string& san = "", int days = 30);

  std::string pem(const std::string& name) const { return (dir_ / (name + ".pem")).string(); }
  std::string key(const std::string& name) const { return (dir_ / (name + ".key")).string(); }

  // A [server.tls] table serving certificate `cert`; with `client_ca`, mutual TLS.
  std::string server_toml(const std::string& cert, const std::string& client_ca = "",
                          const std::string& more = "") const;

 private:
  void openssl(const std::vector<std::string>& args) const;
  std::filesystem::path dir_;
};

}  // namespace castellan::test
