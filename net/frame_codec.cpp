// Frame splitting and request parsing. The hot path (validate) walks the
// msgpack map in place with a referencing unpacker: no string is copied and
// no per-request heap allocation happens beyond the reused zone. Which fields
// an op reads and requires comes from the schema table (protocol_schema.hpp).
#include "net/frame_codec.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "net/bounded_unpack.hpp"
#include "net/byte_order.hpp"

namespace castellan::net {
namespace {

std::string_view as_view(const msgpack::object& o) {
  return {o.via.str.ptr, o.via.str.size};
}

constexpr size_t max_request_depth = 16;

// Where a text field's value lands in a request_view; the schema says which
// fields an op reads, this says where the parser keeps them. The other two
// types have one slot each: request_view::count and request_view::local_read.
template <class View>
constexpr auto* text_slot(View& r, field f) {
  switch (f) {
    case field::token: return &r.token;
    case field::user: return &r.user;
    case field::password: return &r.password;
    case field::ip: return &r.ip;
    case field::target: return &r.target;
    case field::count:
    case field::consistency: break;
  }
  return static_cast<decltype(&r.token)>(nullptr);
}

constexpr bool one_field_of(field_type type) {
  return std::ranges::count(fields, type, &field_spec::type) == 1;
}
static_assert(one_field_of(field_type::positive_integer) && one_field_of(field_type::consistency),
              "request_view has one slot for a positive integer and one for a consistency level");

bool refuse(std::string& why, const field_spec& f, std::string_view must) {
  why = "field \"" + std::string(f.name) + "\" must be " + std::string(must);
  return false;
}

// Stores one field the op reads; a value of the wrong type is a bad request.
bool read_field(const field_spec& f, const msgpack::object& v, request_view& r, std::string& why) {
  switch (f.type) {
    case field_type::text:
      if (v.type != msgpack::type::STR)
        return refuse(why, f, "a string");
      *text_slot(r, f.id) = as_view(v);
      return true;
    case field_type::positive_integer:
      if (v.type != msgpack::type::POSITIVE_INTEGER)
        return refuse(why, f, "a positive integer");
      r.count = v.via.u64;
      return true;
    case field_type::consistency: {
      auto level = v.type == msgpack::type::STR ? as_view(v) : std::string_view();
      if (level != "owner" && level != "local")
        return refuse(why, f, "\"owner\" or \"local\"");
      r.local_read = level == "local";
      return true;
    }
  }
  return true;
}

// Reads the fields r.kind's schema row lists; others are ignored whatever
// their type, like unknown keys (and non-string keys).
bool read_fields(const msgpack::object_map& map, request_view& r, std::string& why) {
  auto reads = spec_of(r.kind).reads();
  if (reads.empty())
    return true;
  for (uint32_t i = 0; i < map.size; ++i) {
    const auto& k = map.ptr[i].key;
    field f;
    if (k.type != msgpack::type::STR || !field_from_name(as_view(k), reads, f))
      continue;
    if (!read_field(spec_of(f), map.ptr[i].val, r, why))
      return false;
  }
  return true;
}

constexpr bool present(const request_view& r, const field_spec& f) {
  switch (f.type) {
    case field_type::text: return !text_slot(r, f.id)->empty();
    case field_type::positive_integer: return r.count != 0;
    case field_type::consistency: return true;
  }
  return true;
}

bool refuse_missing(const field_spec& f, std::string& why) {
  if (f.type == field_type::positive_integer)
    why = "request needs a positive integer \"" + std::string(f.name) + "\"";
  else
    why = "missing field \"" + std::string(f.name) + "\"";
  return false;
}

// The first required field (in field order) that is missing or empty is
// refused. Unrolled over the fields at compile time, so each test is a bit
// test and one member check; a runtime loop over the table was a fifth of
// the parser's own instructions per validate.
template <size_t... I>
bool check_required(const request_view& r, std::string& why, std::index_sequence<I...>) {
  auto required = spec_of(r.kind).required;
  return ((!required.contains(fields[I].id) || present(r, fields[I]) ||
           refuse_missing(fields[I], why)) && ...);
}

bool check_required(const request_view& r, std::string& why) {
  return check_required(r, why, std::make_index_sequence<fields.size()>{});
}

// Decodes the body as exactly one msgpack value, referencing its strings.
bool unpack_body(std::string_view body, msgpack::zone& zone, msgpack::object& obj, parse_result& result) {
  try {
    size_t offset = 0;
    bool referenced = false;
    auto reference_all = [](msgpack::type::object_type, size_t, void*) { return true; };
    // Bounded (net/bounded_unpack.hpp): a few bytes must not reserve gigabytes
    // on the I/O thread; requests are shallow.
    obj = msgpack::unpack(zone, body.data(), body.size(), offset, referenced, reference_all, nullptr,
                          limits_for(body.size(), max_request_depth));
    if (offset != body.size()) {
      result.status = parse_status::not_msgpack;
      result.why = "frame holds bytes after its msgpack value";
      return false;
    }
  } catch (const std::exception&) {
    result.status = parse_status::not_msgpack;
    result.why = "frame body is not a msgpack value";
    return false;
  }
  return true;
}

// Reads "id" and "op" and classifies the op by the schema.
bool read_id_and_op(const msgpack::object_map& map, request_view& r, std::string& why) {
  bool has_id = false, has_op = false;
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
    why = "request needs an unsigned integer \"id\"";
    return false;
  }
  if (!has_op) {
    why = "request needs a string \"op\"";
    return false;
  }
  r.kind = op_from_name(r.op);
  return true;
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
  if (!unpack_body(body, zone, obj, result))
    return result;
  result.status = parse_status::bad_request;
  if (obj.type != msgpack::type::MAP) {
    result.why = "request must be a msgpack map";
    return result;
  }
  const auto& map = obj.via.map;
  auto& r = result.request;
  if (!read_id_and_op(map, r, result.why) || !read_fields(map, r, result.why) ||
      !check_required(r, result.why))
    return result;
  result.status = parse_status::ok;
  return result;
}

void reply_buffer::patch_header(size_t start) {
  auto n = static_cast<uint32_t>(bytes_.size() - start - frame_header_bytes);
  store_be32(bytes_.data() + start, n);
}

reply_view parse_reply(std::string_view body) {
  reply_view r;
  r.body = unpack_bounded(body.data(), body.size());
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
