// argon2id via libsodium. A hash records its own m and t, so raising the
// parameters in config only affects new hashes; old ones keep verifying.
#include "config/password_hash.hpp"

#include <cstdio>
#include <stdexcept>

#include <sodium.h>

namespace castellan::config {

void init_sodium() {
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium failed to initialise");
}

std::string hash_password(const std::string& password, argon2_params params) {
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), params.iterations,
                            static_cast<size_t>(params.memory_kib) * 1024,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    throw std::runtime_error("argon2id hashing failed (out of memory?)");
  return out;
}

bool verify_password(const std::string& password, const std::string& phc_hash) {
  if (phc_hash.empty() || phc_hash.size() >= crypto_pwhash_STRBYTES)
    return false;
  return crypto_pwhash_str_verify(phc_hash.c_str(), password.data(), password.size()) == 0;
}

std::optional<argon2_params> params_of(const std::string& phc) {
  // $argon2id$v=19$m=19456,t=2,p=1$salt$hash
  unsigned m = 0, t = 0, p = 0;
  if (std::sscanf(phc.c_str(), "$argon2id$v=19$m=%u,t=%u,p=%u$", &m, &t, &p) != 3)
    return std::nullopt;
  return argon2_params{m, t};
}

std::string random_password(size_t length) {
  init_sodium();
  static constexpr char alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  constexpr uint32_t n = sizeof(alphabet) - 1;
  std::string out(length, ' ');
  for (auto& c : out)
    c = alphabet[randombytes_uniform(n)];
  return out;
}

}  // namespace castellan::config
