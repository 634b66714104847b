// Users file: TOML array of [[users]] tables. Parsing is strict (unknown keys
// and bad names are errors naming the entry) because a typo here decides who
// may trade; saving is atomic so a crash never leaves half a file.
#include "config/users_file.hpp"

#include "config/atomic_file.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

namespace castellan::config {
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& why) {
  throw config_error(where + ": " + why);
}

user_record parse_user(const toml::table& t, const std::string& where) {
  user_record u;
  for (auto& [k, v] : t) {
    std::string key{k.str()};
    if (key == "name" && v.is_string())
      u.name = *v.value<std::string>();
    else if (key == "password_hash" && v.is_string())
      u.password_hash = *v.value<std::string>();
    else if (key == "enabled" && v.is_boolean())
      u.enabled = *v.value<bool>();
    else if (key == "roles" && v.is_array()) {
      for (auto& r : *v.as_array()) {
        if (!r.is_string())
          fail(where + ".roles", "must be an array of strings");
        u.roles.push_back(*r.value<std::string>());
      }
    } else if (key == "certificates" && v.is_array()) {
      for (auto& c : *v.as_array()) {
        if (!c.is_string() || !valid_certificate_name(*c.value<std::string>()))
          fail(where + ".certificates",
               "must be an array of \"CN=name\", \"DNS:name\" or \"URI:uri\" strings");
        u.certificates.push_back(*c.value<std::string>());
      }
    } else if (key == "name" || key == "password_hash" || key == "enabled" || key == "roles" ||
               key == "certificates")
      fail(where + "." + key, "wrong type");
    else
      fail(where + "." + key, "unknown key");
  }
  if (!valid_user_name(u.name))
    fail(where + ".name", "missing or invalid (1-64 of A-Z a-z 0-9 . _ @ -)");
  if (u.password_hash.rfind("$argon2id$", 0) != 0)
    fail(where + ".password_hash", "must be an argon2id PHC string");
  return u;
}

}  // namespace

bool valid_certificate_name(const std::string& name) {
  for (const char* prefix : {"CN=", "DNS:", "URI:"}) {
    std::string_view p(prefix);
    if (name.size() > p.size() && name.compare(0, p.size(), p) == 0)
      return name.find('\0') == std::string::npos;
  }
  return false;
}

bool user_record::proven_by(const std::vector<std::string>& presented) const {
  return std::any_of(certificates.begin(), certificates.end(), [&](const std::string& name) {
    return std::find(presented.begin(), presented.end(), name) != presented.end();
  });
}

const user_record* users_table::find(const std::string& name) const {
  auto i = by_name.find(name);
  return i == by_name.end() ? nullptr : &i->second;
}

std::vector<std::pair<std::string, std::string>> diff_users(const users_table& before,
                                                            const users_table& after) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [name, old] : before.by_name) {
    auto* now = after.find(name);
    if (!now)
      out.emplace_back(name, "removed");
    else if (old.enabled != now->enabled)
      out.emplace_back(name, now->enabled ? "enabled" : "disabled");
    else if (old.password_hash != now->password_hash)
      out.emplace_back(name, "password");
    else if (old.roles != now->roles)
      out.emplace_back(name, "roles");
    else if (old.certificates != now->certificates)
      out.emplace_back(name, "certificates");
  }
  for (auto& [name, u] : after.by_name)
    if (!before.find(name))
      out.emplace_back(name, "added");
  std::sort(out.begin(), out.end());
  return out;
}

bool valid_user_name(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return false;
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '@' && c != '-')
      return false;
  return true;
}

users_table parse_users(const std::string& toml_text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << origin << ":" << e.source().begin.line << ": " << e.description();
    throw config_error(out.str());
  }
  users_table table;
  for (auto& [k, v] : root) {
    if (k.str() != "users")
      fail(origin + ": " + std::string{k.str()}, "unknown key (expected [[users]])");
    auto* arr = v.as_array();
    if (!arr)
      fail(origin + ": users", "must be an array of tables ([[users]])");
    size_t index = 0;
    for (auto& entry : *arr) {
      std::string where = origin + ": users[" + std::to_string(index++) + "]";
      auto* t = entry.as_table();
      if (!t)
        fail(where, "must be a table");
      auto u = parse_user(*t, where);
      if (table.by_name.count(u.name))
        fail(where + ".name", "duplicate user '" + u.name + "'");
      table.by_name.emplace(u.name, std::move(u));
    }
  }
  return table;
}

users_table load_users(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw config_error(path + ": cannot open users file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_users(text.str(), path);
}

std::string render_users(const users_table& table) {
  toml::array users;
  for (auto& [name, u] : table.by_name) {
    toml::array roles;
    for (auto& r : u.roles)
      roles.push_back(r);
    toml::table entry{{"name", u.name},
                      {"password_hash", u.password_hash},
                      {"roles", roles},
                      {"enabled", u.enabled}};
    if (!u.certificates.empty()) {
      toml::array certificates;
      for (auto& c : u.certificates)
        certificates.push_back(c);
      entry.insert("certificates", certificates);
    }
    users.push_back(std::move(entry));
  }
  std::ostringstream out;
  out << "# Castellan users file: edit with `authctl user add|disable|enable|list`.\n"
      << toml::table{{"users", users}} << "\n";
  return out.str();
}

void save_users(const users_table& table, const std::string& path) {
  try {
    write_file_atomically(path, render_users(table), 0600);
  } catch (const std::runtime_error& e) {
    throw config_error(e.what());
  }
}

}  // namespace castellan::config

#include "config/password_hash.hpp"

namespace castellan::config {

std::optional<std::string> bootstrap_users_file(const std::string& path,
                                                uint32_t argon2_memory_kib,
                                                uint32_t argon2_iterations) {
  if (std::filesystem::exists(path))
    return std::nullopt;
  auto password = random_password();
  users_table table;
  user_record admin;
  admin.name = "admin";
  admin.password_hash = hash_password(password, {argon2_memory_kib, argon2_iterations});
  admin.roles = {"admin"};
  table.by_name.emplace(admin.name, admin);
  save_users(table, path);
  return password;
}

}  // namespace castellan::config
