// Reading the audit log: scanning segments, checking every CRC and the hash
// chain, naming the first bad record. Used by `authctl audit verify|tail` and
// by the writer at start-up to find (and cut) a torn tail. CAF-free.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/storage/audit_format.hpp"

namespace castellan::actors {

struct audit_problem {
  std::string segment_file;
  uint64_t offset = 0;   // byte offset of the bad record (or header) in that file
  uint64_t index = 0;    // the record's index in the log (0 for a header problem)
  std::string what;
};

// Called for each valid record: its index, body (msgpack), file and offset.
using record_visitor =
    std::function<void(uint64_t index, std::string_view body, const std::string& file, uint64_t offset)>;

struct segment_scan {
  audit_format::segment_header header;
  uint64_t end_offset = 0;       // just past the last valid record
  uint64_t next_index = 0;       // index the next record would get
  audit_format::chain_hash last_hash{};
  uint64_t records = 0;
  std::optional<audit_problem> problem;  // first invalid record or header
  uint64_t garbage_bytes = 0;    // non-zero bytes from end_offset to the last non-zero byte
  bool valid_after_problem = false;  // a well-formed record follows the bad one: corruption, not a torn write
};

// Scans one segment. With `expected`, the header must continue that chain.
segment_scan scan_segment(const std::string& path, const segment_scan* expected,
                          const record_visitor& visit);

// Streams the records of one segment for replay: reads in large chunks and
// stops at the end of the records (preallocated zeros) or at the first
// record whose CRC fails, which it describes in `problem`. Checks CRCs only:
// the hash chain is what `verify_log` is for. Returns the records visited.
uint64_t replay_segment(const std::string& path, const record_visitor& visit, std::string& problem);

// The index of the first record of a segment, from its header (nothing if
// the header is unreadable or invalid).
std::optional<uint64_t> segment_first_index(const std::string& path);

// Segment files of `dir`, oldest first (full paths).
std::vector<std::string> list_segments(const std::string& dir);

struct verify_report {
  uint64_t segments = 0;
  uint64_t records = 0;
  uint64_t first_index = 0;      // index of the oldest record still present
  std::optional<audit_problem> problem;
};

// Walks every segment in order, checking CRCs and the chain within and
// across segments. Stops at the first problem. A torn tail (bytes after the
// last record that form no valid record, in the newest segment) is reported
// as a problem too: a running node cuts it at start.
verify_report verify_log(const std::string& dir, const record_visitor& visit = {});

}  // namespace castellan::actors
