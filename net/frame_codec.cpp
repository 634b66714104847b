// Frame splitting and request parsing. The hot path (validate) walks the
// msgpack map in place with a referencing unpacker: no string is copied and
// no per-request heap allocation happens beyond the reused zone.
#include "net/frame_codec.hpp"

#include <stdexcept>

#include "net/byte_order.hpp"

namespace castellan::net {
namespace {

op_kind classify(std::string_view op) {
  if (op == "validate") return op_kind::validate;
  if (op == "login") return op_kind::login;
  if (op == "refresh") return op_kind::refresh;
  if (op == "logout") return op_kind::logout;
  if (op == "ping") return op_kind::ping;
  if (op == "health") return op_kind::health;
  if (op == "debug_crash") return op_kind::debug_crash;
  if (op == "metrics_summary") return op_kind::metrics_summary;
  if (op == "debug_populate") return op_kind::debug_populate;
  if (op == "cluster_status") return op_kind::cluster_status;
  if (op == "revoke_user") return op_kind::revoke_user;
  return op_kind::unknown;
}

std::string_view as_view(const msgpack::object& o) {
  return {o.via.str.ptr, o.via.str.size};
}

constexpr size_t max_request_depth = 16;

// Whether `op` uses the field named `key`; fields an op does not use are
// ignored whatever their type, like unknown fields.
bool op_uses(op_kind op, std::string_view key) {
  switch (op) {
    case op_kind::validate:
      return key == "token" || key == "consistency";
    case op_kind::refresh:
    case op_kind::logout:
      return key == "token";
    case op_kind::login:
      return key == "user" || key == "password" || key == "ip";
    case op_kind::debug_crash:
      return key == "token" || key == "target";
    case op_kind::debug_populate:
      return key == "token" || key == "count";
    case op_kind::revoke_user:
      return key == "token" || key == "user";
    default:
      return false;
  }
}

// Reads the op's string fields; a field of the wrong type is a bad request.
bool read_fields(const msgpack::object_map& map, request_view& r, std::string& why) {
  for (uint32_t i = 0; i < map.size; ++i) {
    const auto& k = map.ptr[i].key;
    const auto& v = map.ptr[i].val;
    if (k.type != msgpack::type::STR)
      continue;  // unknown (non-string) keys are ignored like unknown fields
    auto key = as_view(k);
    if (!op_uses(r.kind, key))
      continue;
    if (key == "count") {
      if (v.type != msgpack::type::POSITIVE_INTEGER) {
        why = "field \"count\" must be a positive integer";
        return false;
      }
      r.count = v.via.u64;
      continue;
    }
    if (key == "consistency") {
      auto level = v.type == msgpack::type::STR ? as_view(v) : std::string_view();
      if (level != "owner" && level != "local") {
        why = "field \"consistency\" must be \"owner\" or \"local\"";
        return false;
      }
      r.local_read = level == "local";
      continue;
    }
    std::string_view* target = nullptr;
    if (key == "token") target = &r.token;
    else if (key == "user") target = &r.user;
    else if (key == "password") target = &r.password;
    else if (key == "ip") target = &r.ip;
    else if (key == "target") target = &r.target;
    if (!target)
      continue;
    if (v.type != msgpack::type::STR) {
      why = "field \"" + std::string(key) + "\" must be a string";
      return false;
    }
    *target = as_view(v);
  }
  return true;
}

bool require(std::string_view value, const char* name, std::string& why) {
  if (!value.empty())
    return true;
  why = std::string("missing field \"") + name + "\"";
  return false;
}

}  // namespace

frame_scan scan_frame(std::string_view stream, uint32_t max_body_bytes) {
  frame_scan scan;
  if (stream.size() < frame_header_bytes)
    return scan;
  scan.declared_length = load_be32(stream.data());
  if (scan.declared_length > max_body_bytes) {
    scan.status = frame_status::too_large;
    return scan;
  }
  size_t total = frame_header_bytes + scan.declared_length;
  if (stream.size() < total)
    return scan;
  scan.status = frame_status::complete;
  scan.body = stream.substr(frame_header_bytes, scan.declared_length);
  scan.frame_bytes = total;
  return scan;
}

void append_frame_header(std::string& out, uint32_t n) {
  char h[frame_header_bytes];
  store_be32(h, n);
  out.append(h, frame_header_bytes);
}

parse_result parse_request(std::string_view body, msgpack::zone& zone) {
  parse_result result;
  msgpack::object obj;
  try {
    size_t offset = 0;
    bool referenced = false;
    auto reference_all = [](msgpack::type::object_type, size_t, void*) { return true; };
    // Without limits an array header claiming 2^32 elements makes msgpack
    // reserve memory for them before reading one: a few bytes could stall the
    // I/O thread or exhaust memory. No container can hold more elements than
    // the body has bytes, and requests are shallow.
    msgpack::unpack_limit limit(body.size(), body.size(), body.size(), body.size(), body.size(),
                                max_request_depth);
    obj = msgpack::unpack(zone, body.data(), body.size(), offset, referenced, reference_all, nullptr,
                          limit);
    if (offset != body.size()) {
      result.status = parse_status::not_msgpack;
      result.why = "frame holds bytes after its msgpack value";
      return result;
    }
  } catch (const std::exception&) {
    result.status = parse_status::not_msgpack;
    result.why = "frame body is not a msgpack value";
    return result;
  }
  result.status = parse_status::bad_request;
  if (obj.type != msgpack::type::MAP) {
    result.why = "request must be a msgpack map";
    return result;
  }
  auto& r = result.request;
  bool has_id = false, has_op = false;
  const auto& map = obj.via.map;
  for (uint32_t i = 0; i < map.size; ++i) {
    const auto& k = map.ptr[i].key;
    const auto& v = map.ptr[i].val;
    if (k.type != msgpack::type::STR)
      continue;
    auto key = as_view(k);
    if (key == "id" && v.type == msgpack::type::POSITIVE_INTEGER) {
      r.id = v.via.u64;
      has_id = true;
    } else if (key == "op" && v.type == msgpack::type::STR) {
      r.op = as_view(v);
      has_op = true;
    }
  }
  if (!has_id) {
    result.why = "request needs an unsigned integer \"id\"";
    return result;
  }
  if (!has_op) {
    result.why = "request needs a string \"op\"";
    return result;
  }
  r.kind = classify(r.op);
  if (!read_fields(map, r, result.why))
    return result;
  switch (r.kind) {
    case op_kind::validate:
    case op_kind::refresh:
    case op_kind::logout:
      if (!require(r.token, "token", result.why))
        return result;
      break;
    case op_kind::login:
      if (!require(r.user, "user", result.why) || !require(r.password, "password", result.why))
        return result;
      break;
    case op_kind::debug_crash:
      if (!require(r.token, "token", result.why) || !require(r.target, "target", result.why))
        return result;
      break;
    case op_kind::revoke_user:
      if (!require(r.token, "token", result.why) || !require(r.user, "user", result.why))
        return result;
      break;
    case op_kind::debug_populate:
      if (!require(r.token, "token", result.why))
        return result;
      if (r.count == 0) {
        result.why = "request needs a positive integer \"count\"";
        return result;
      }
      break;
    case op_kind::ping:
    case op_kind::health:
    case op_kind::metrics_summary:
    case op_kind::cluster_status:
    case op_kind::unknown:
      break;
  }
  result.status = parse_status::ok;
  return result;
}

void reply_buffer::add_error(uint64_t id, error_code code, std::string_view message) {
  add_error_map(id, code, message, std::nullopt);
}

void reply_buffer::add_rate_limited(uint64_t id, std::string_view message,
                                    uint64_t retry_after_ms) {
  add_error_map(id, error_code::rate_limited, message, retry_after_ms);
}

void reply_buffer::add_error_map(uint64_t id, error_code code, std::string_view message,
                                 std::optional<uint64_t> retry_after_ms) {
  results_.push_back(static_cast<uint8_t>(static_cast<uint8_t>(code) + 1));
  size_t start = bytes_.size();
  bytes_.append(frame_header_bytes, '\0');
  appender out{bytes_};
  msgpack::packer<appender> pk(out);
  pk.pack_map(retry_after_ms ? 5 : 4);
  pk.pack("id");
  pk.pack(id);
  pk.pack("ok");
  pk.pack(false);
  pk.pack("error");
  pk.pack(to_string(code));
  pk.pack("message");
  pk.pack(message);
  if (retry_after_ms) {
    pk.pack("retry_after_ms");
    pk.pack(*retry_after_ms);
  }
  patch_header(start);
}

void reply_buffer::patch_header(size_t start) {
  auto n = static_cast<uint32_t>(bytes_.size() - start - frame_header_bytes);
  store_be32(bytes_.data() + start, n);
}

reply_view parse_reply(std::string_view body) {
  reply_view r;
  msgpack::unpack_limit limit(body.size(), body.size(), body.size(), body.size(), body.size(), 32);
  r.body = msgpack::unpack(body.data(), body.size(), nullptr, nullptr, limit);
  const auto& obj = r.body.get();
  if (obj.type != msgpack::type::MAP)
    throw std::runtime_error("reply is not a msgpack map");
  bool has_id = false, has_ok = false;
  for (uint32_t i = 0; i < obj.via.map.size; ++i) {
    const auto& k = obj.via.map.ptr[i].key;
    const auto& v = obj.via.map.ptr[i].val;
    if (k.type != msgpack::type::STR)
      continue;
    auto key = as_view(k);
    if (key == "id" && v.type == msgpack::type::POSITIVE_INTEGER) {
      r.id = v.via.u64;
      has_id = true;
    } else if (key == "ok" && v.type == msgpack::type::BOOLEAN) {
      r.ok = v.via.boolean;
      has_ok = true;
    } else if (key == "error" && v.type == msgpack::type::STR) {
      r.error = std::string(as_view(v));
    } else if (key == "message" && v.type == msgpack::type::STR) {
      r.message = std::string(as_view(v));
    } else if (key == "retry_after_ms" && v.type == msgpack::type::POSITIVE_INTEGER) {
      r.retry_after_ms = v.via.u64;
    }
  }
  if (!has_id || !has_ok)
    throw std::runtime_error("reply lacks \"id\" or \"ok\"");
  return r;
}

}  // namespace castellan::net
