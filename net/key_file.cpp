// Key file I/O (JSON through nlohmann). Written atomically (temp, fsync,
// rename) with mode 0600; a file others can read is refused, as ssh does,
// because whoever reads it can mint tokens.
#include "net/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "config/atomic_file.hpp"
#include "net/wall_clock.hpp"

namespace castellan::net {
namespace {

token_key fresh_key(uint32_t id) {
  token_key k;
  k.id = id;
  randombytes_buf(k.secret.data(), k.secret.size());
  k.created_ms = wall_ms();
  return k;
}

std::string to_hex(const std::array<uint8_t, token_key_bytes>& bytes) {
  char hex[token_key_bytes * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, bytes.data(), bytes.size());
  return hex;
}

void save(const std::string& path, const keyring& ring) {
  nlohmann::json doc;
  doc["primary"] = ring.primary_id();
  doc["keys"] = nlohmann::json::array();
  for (auto& k : ring.keys())
    doc["keys"].push_back({{"id", k.id}, {"secret", to_hex(k.secret)}, {"created_ms", k.created_ms},
                           {"retire_at_ms", k.retire_at_ms}});
  try {
    config::write_file_atomically(path, doc.dump(2) + "\n", 0600);
  } catch (const std::runtime_error& e) {
    throw key_file_error(e.what());
  }
}

token_key parse_key(const nlohmann::json& j, const std::string& path) {
  token_key k;
  k.id = j.at("id").get<uint32_t>();
  auto hex = j.at("secret").get<std::string>();
  size_t n = 0;
  if (sodium_hex2bin(k.secret.data(), k.secret.size(), hex.data(), hex.size(), nullptr, &n,
                     nullptr) != 0 ||
      n != token_key_bytes)
    throw key_file_error(path + ": key " + std::to_string(k.id) + ": secret must be " +
                         std::to_string(token_key_bytes * 2) + " hex digits");
  k.created_ms = j.value("created_ms", int64_t{0});
  k.retire_at_ms = j.value("retire_at_ms", int64_t{0});
  return k;
}

}  // namespace

keyring load_key_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw key_file_error(path + ": cannot read key file: " + std::strerror(errno));
  if (st.st_mode & 077)
    throw key_file_error(path + ": key file must not be readable by group or others (chmod 600)");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  try {
    auto doc = nlohmann::json::parse(text.str());
    std::vector<token_key> keys;
    for (auto& j : doc.at("keys"))
      keys.push_back(parse_key(j, path));
    if (keys.empty())
      throw key_file_error(path + ": key file holds no keys");
    return keyring(std::move(keys), doc.at("primary").get<uint32_t>());
  } catch (const key_file_error&) {
    throw;
  } catch (const nlohmann::json::parse_error& e) {
    // Never e.what(): it quotes the text around the error, i.e. key material.
    throw key_file_error(path + ": corrupt key file: not valid JSON (at byte " +
                         std::to_string(e.byte) + ")");
  } catch (const std::exception&) {
    throw key_file_error(path + ": corrupt key file: needs \"primary\" and \"keys\" with "
                         "\"id\" and \"secret\" (docs/operations.md)");
  }
}

std::shared_ptr<const keyring> load_or_create_key_file(const std::string& path) {
  if (sodium_init() < 0)
    throw key_file_error("libsodium failed to initialise");
  if (!std::filesystem::exists(path)) {
    keyring fresh({fresh_key(1)}, 1);
    save(path, fresh);
  }
  return std::make_shared<const keyring>(load_key_file(path));
}

uint32_t rotate_key_file(const std::string& path, int64_t grace_ms) {
  auto now = wall_ms();
  auto ring = load_key_file(path).in_force(now);
  auto keys = ring.keys();
  uint32_t next = 0;
  for (auto& k : keys) {
    next = std::max(next, k.id);
    if (k.retire_at_ms == 0)
      k.retire_at_ms = now + grace_ms;
  }
  ++next;
  keys.push_back(fresh_key(next));
  save(path, keyring(std::move(keys), next));
  return next;
}

void retire_key(const std::string& path, uint32_t id) {
  auto ring = load_key_file(path);
  if (id == ring.primary_id())
    throw key_file_error(path + ": key " + std::to_string(id) + " is primary; rotate first");
  auto keys = ring.keys();
  auto before = keys.size();
  std::erase_if(keys, [id](const token_key& k) { return k.id == id; });
  if (keys.size() == before)
    throw key_file_error(path + ": no key with id " + std::to_string(id));
  save(path, keyring(std::move(keys), ring.primary_id()));
}

}  // namespace castellan::net
