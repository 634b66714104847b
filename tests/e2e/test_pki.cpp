// See test_pki.hpp. EC P-256 keys: quick to make, as servers use them.
#include "tests/e2e/test_pki.hpp"

#include <fstream>
#include <stdexcept>
#include <vector>

#include "tests/e2e/authd_process.hpp"

namespace castellan::test {

test_pki::test_pki(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
}

test_pki::~test_pki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void test_pki::openssl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_program(argv, "", std::chrono::seconds(30), dir_);
  if (r.exit_code != 0)
    throw std::runtime_error("openssl " + args.front() + " failed: " + r.err);
}

void test_pki::make_ca(const std::string& name) {
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", key(name), "-out", pem(name), "-days", "30", "-subj", "/CN=" + name});
}

void test_pki::issue(const std::string& name, const std::string& ca, const std::string& cn,
                     const std::string& san, int days) {
  auto csr = (dir_ / (name + ".csr")).string();
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
           key(name), "-out", csr, "-subj", "/CN=" + cn});
  std::vector<std::string> sign{"x509", "-req", "-in", csr, "-CA", pem(ca), "-CAkey", key(ca),
                                "-CAcreateserial", "-out", pem(name), "-days", std::to_string(days)};
  if (!san.empty()) {
    auto ext = (dir_ / (name + ".ext")).string();
    std::ofstream(ext) << "subjectAltName=" << san << "\n";
    sign.insert(sign.end(), {"-extfile", ext});
  }
  openssl(sign);
  std::filesystem::permissions(key(name), std::filesystem::perms::owner_read |
                                              std::filesystem::perms::owner_write);
}

std::string test_pki::server_toml(const std::string& cert, const std::string& client_ca,
                                  const std::string& more) const {
  std::string out = "[server.tls]\ncert_file = \"" + pem(cert) + "\"\nkey_file = \"" + key(cert) + "\"\n";
  if (!client_ca.empty())
    out += "client_ca_file = \"" + pem(client_ca) + "\"\n";
  return out + more;
}

}  // namespace castellan::test
