// Audit log reader; see audit_reader.hpp and audit_format.hpp.
#include "actors/storage/audit_reader.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/storage/crc32c.hpp"
#include "net/byte_order.hpp"

namespace castellan::actors {
namespace fmt = audit_format;
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool record_crc_ok(const uint8_t* p, size_t avail) {
  if (avail < fmt::record_header_bytes)
    return false;
  uint32_t n = net::load_be32(p);
  if (n == 0 || n > fmt::max_record_body || avail < fmt::record_header_bytes + n)
    return false;
  return net::load_be32(p + 4) == crc32c(0, p + 8, fmt::hash_bytes + n);
}

}  // namespace

segment_scan scan_segment(const std::string& path, const segment_scan* expected,
                          const record_visitor& visit) {
  segment_scan scan;
  auto name = std::filesystem::path(path).filename().string();
  auto data = read_all(path);
  auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  auto fail = [&](uint64_t offset, uint64_t index, std::string what) {
    scan.problem = audit_problem{name, offset, index, std::move(what)};
  };
  if (data.size() < fmt::header_bytes || !fmt::decode_header(bytes, scan.header)) {
    fail(0, 0, "segment header is missing or damaged");
    return scan;
  }
  if (expected && scan.header.first_index != expected->next_index) {
    fail(0, 0, "segment starts at record " + std::to_string(scan.header.first_index) +
                   " but the previous segment ends before record " +
                   std::to_string(expected->next_index) + ": records are missing");
    return scan;
  }
  if (expected && scan.header.prev_hash != expected->last_hash) {
    fail(0, 0, "hash chain broken between segments: the previous segment was changed or replaced");
    return scan;
  }
  uint64_t offset = fmt::header_bytes;
  uint64_t index = scan.header.first_index;
  auto prev = scan.header.prev_hash;
  while (offset + 4 <= data.size()) {
    const uint8_t* p = bytes + offset;
    uint32_t n = net::load_be32(p);
    if (n == 0)
      break;  // preallocated zeros: the end of the records
    if (n > fmt::max_record_body || offset + fmt::record_header_bytes + n > data.size()) {
      fail(offset, index, "record length " + std::to_string(n) + " runs past the segment (truncated?)");
      break;
    }
    if (net::load_be32(p + 4) != crc32c(0, p + 8, fmt::hash_bytes + n)) {
      fail(offset, index, "CRC mismatch: the record was changed or torn");
      size_t next = offset + fmt::record_header_bytes + n;
      scan.valid_after_problem = next < data.size() && record_crc_ok(bytes + next, data.size() - next);
      break;
    }
    auto h = fmt::chain(prev, index, p + fmt::record_header_bytes, n);
    if (std::memcmp(h.data(), p + 8, fmt::hash_bytes) != 0) {
      fail(offset, index, "hash chain broken: a record before it was changed, removed or reordered");
      scan.valid_after_problem = true;
      break;
    }
    if (visit)
      visit(index, {data.data() + offset + fmt::record_header_bytes, n}, name, offset);
    prev = h;
    ++index;
    ++scan.records;
    offset += fmt::record_header_bytes + n;
  }
  scan.end_offset = offset;
  scan.next_index = index;
  scan.last_hash = prev;
  auto last_nonzero = data.find_last_not_of('\0');
  if (last_nonzero != std::string::npos && last_nonzero + 1 > offset) {
    scan.garbage_bytes = last_nonzero + 1 - offset;
    if (!scan.problem)
      fail(offset, index, std::to_string(scan.garbage_bytes) +
                              " bytes after the last record form no record (torn write)");
  }
  return scan;
}

uint64_t replay_segment(const std::string& path, const record_visitor& visit, std::string& problem) {
  constexpr size_t chunk = 1 << 20;
  std::ifstream in(path, std::ios::binary);
  auto name = std::filesystem::path(path).filename().string();
  std::string buf(fmt::header_bytes, '\0');
  fmt::segment_header h;
  if (!in.read(buf.data(), fmt::header_bytes) ||
      !fmt::decode_header(reinterpret_cast<const uint8_t*>(buf.data()), h)) {
    problem = name + ": segment header is missing or damaged";
    return 0;
  }
  buf.clear();
  size_t pos = 0;             // start of the next record in buf
  uint64_t file_offset = fmt::header_bytes;  // of buf[0]
  uint64_t index = h.first_index, visited = 0;
  bool eof = false;
  for (;;) {
    // Enough bytes for the next record header (and then its body)?
    auto need = [&](size_t n) {
      while (buf.size() - pos < n && !eof) {
        buf.erase(0, pos);
        file_offset += pos;
        pos = 0;
        size_t old = buf.size();
        buf.resize(old + std::max(chunk, n));
        in.read(buf.data() + old, static_cast<std::streamsize>(buf.size() - old));
        buf.resize(old + static_cast<size_t>(in.gcount()));
        eof = in.gcount() == 0 || !in;
      }
      return buf.size() - pos >= n;
    };
    if (!need(fmt::record_header_bytes))
      return visited;
    auto* p = reinterpret_cast<const uint8_t*>(buf.data() + pos);
    uint32_t n = net::load_be32(p);
    if (n == 0)
      return visited;  // preallocated zeros: the end of the records
    if (n > fmt::max_record_body || !need(fmt::record_header_bytes + n)) {
      problem = name + " at byte " + std::to_string(file_offset + pos) + ": record length " +
                std::to_string(n) + " runs past the segment";
      return visited;
    }
    p = reinterpret_cast<const uint8_t*>(buf.data() + pos);
    if (net::load_be32(p + 4) != crc32c(0, p + 8, fmt::hash_bytes + n)) {
      problem = name + " at byte " + std::to_string(file_offset + pos) + ": CRC mismatch";
      return visited;
    }
    visit(index, {buf.data() + pos + fmt::record_header_bytes, n}, name, file_offset + pos);
    ++index;
    ++visited;
    pos += fmt::record_header_bytes + n;
  }
}

std::optional<uint64_t> segment_first_index(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint8_t raw[audit_format::header_bytes];
  if (!in.read(reinterpret_cast<char*>(raw), sizeof raw))
    return std::nullopt;
  audit_format::segment_header h;
  if (!audit_format::decode_header(raw, h))
    return std::nullopt;
  return h.first_index;
}

std::vector<std::string> list_segments(const std::string& dir) {
  std::vector<std::pair<uint64_t, std::string>> found;
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    auto n = fmt::segment_number(entry.path().filename().string());
    if (n)
      found.emplace_back(n, entry.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [n, p] : found)
    out.push_back(p);
  return out;
}

verify_report verify_log(const std::string& dir, const record_visitor& visit) {
  verify_report report;
  std::optional<segment_scan> previous;
  for (auto& path : list_segments(dir)) {
    auto scan = scan_segment(path, previous ? &*previous : nullptr, visit);
    if (!previous)
      report.first_index = scan.header.first_index;
    ++report.segments;
    report.records += scan.records;
    if (scan.problem) {
      report.problem = scan.problem;
      return report;
    }
    previous = std::move(scan);
  }
  return report;
}

}  // namespace castellan::actors
