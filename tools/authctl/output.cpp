// Rendering of replies for humans and scripts; see output.hpp.
#include "tools/authctl/output.hpp"

#include <ctime>
#include <iostream>

namespace castellan::authctl {

nlohmann::json to_json(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL: return nullptr;
    case msgpack::type::BOOLEAN: return o.via.boolean;
    case msgpack::type::POSITIVE_INTEGER: return o.via.u64;
    case msgpack::type::NEGATIVE_INTEGER: return o.via.i64;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return o.via.f64;
    case msgpack::type::STR: return std::string(o.via.str.ptr, o.via.str.size);
    case msgpack::type::BIN: return "<" + std::to_string(o.via.bin.size) + " bytes>";
    case msgpack::type::ARRAY: {
      auto a = nlohmann::json::array();
      for (uint32_t i = 0; i < o.via.array.size; ++i)
        a.push_back(to_json(o.via.array.ptr[i]));
      return a;
    }
    case msgpack::type::MAP: {
      auto m = nlohmann::json::object();
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        auto& k = o.via.map.ptr[i].key;
        std::string key = k.type == msgpack::type::STR ? std::string(k.via.str.ptr, k.via.str.size)
                                                       : to_json(k).dump();
        m[key] = to_json(o.via.map.ptr[i].val);
      }
      return m;
    }
    default: return nullptr;
  }
}

std::string iso_time(int64_t unix_ms) {
  std::time_t secs = unix_ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(unix_ms % 1000));
  return out;
}

void print_reply(const nlohmann::json& reply, bool json) {
  if (json) {
    std::cout << reply.dump() << "\n";
    return;
  }
  for (auto& [key, value] : reply.items()) {
    if (key == "id" || key == "ok")
      continue;
    std::cout << key << ": ";
    if (value.is_array()) {
      std::string list;
      for (auto& v : value)
        list += (list.empty() ? "" : ", ") + (v.is_string() ? v.get<std::string>() : v.dump());
      std::cout << list;
    } else if (value.is_string()) {
      std::cout << value.get<std::string>();
    } else if (key.size() > 3 && key.compare(key.size() - 3, 3, "_ms") == 0 && value.is_number()) {
      std::cout << iso_time(value.get<int64_t>());
    } else {
      std::cout << value.dump();
    }
    std::cout << "\n";
  }
}

}  // namespace castellan::authctl
