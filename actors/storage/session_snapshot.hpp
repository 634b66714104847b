// Session snapshots: the live sessions and lockouts of a node as one binary
// file, a projection of the audit log up to a log position. Restart = load
// the newest snapshot that verifies + replay audit records from its position.
// Built to load a million sessions in tens of milliseconds: one read, one
// CRC32C pass, fixed 36-byte session records, user names stored once.
// docs/snapshot-format.md is the prose version of the layout below; the two
// change together. No CAF here: the session shards call it from their own code.
//
// A snapshot directory holds files named snapshot-<log position, 20 digits>.snap
// (plus, transiently, one <name>.tmp while a snapshot is written). A file is,
// all integers little-endian:
//
//   offset size  field
//   0      8     magic "CSTLSNAP"
//   8      4     format version, u32 (2; version 1 is read too: no tombstones)
//   12     4     reserved, zero
//   16     8     log position, u64: index of the first audit record NOT covered
//   24     8     taken_ms, i64: wall clock when written
//   32     4     user count U, u32
//   36     4     users section bytes, u32
//   40     4     session count S, u32
//   44     4     lockout count L, u32
//   48     4     lockouts section bytes, u32
//   52     4     tombstone count T, u32 (reserved, zero, in version 1)
//   56     4     reserved, zero
//   60     4     CRC32C of bytes 0..59, u32
//   64           users:    U x (length n u16, n bytes of name)
//                sessions: S x 36 bytes (key 16, user index u32, created_ms i64, expires_ms i64)
//                lockouts: L x (kind u8, level u32, until_ms i64,
//                               user length u16, user, ip length u16, ip)
//                tombstones: T x 24 bytes (key 16, until_ms i64)
//   end-4  4     CRC32C of every byte before it, u32
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace castellan::actors {

// A session's name in a snapshot: a one-way key derived from its id, never the
// token or session id itself, so a snapshot file grants no access.
using session_key = std::array<uint8_t, 16>;

struct snapshot_session {
  session_key key{};
  uint32_t user = 0;  // index into snapshot_image::users
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
};

// A session that was ended (logout, revoke) and must stay ended until
// `until_ms`, when it would have expired: a stale live copy handed over by
// another member cannot bring it back, across restarts too.
struct snapshot_tombstone {
  session_key key{};
  int64_t until_ms = 0;
};

struct snapshot_lockout {
  uint8_t kind = 0;  // 0 user, 1 ip, 2 user_ip
  std::string user;
  std::string ip;
  int64_t until_ms = 0;
  uint32_t level = 0;  // how many lockouts in a row (backoff doubling)
};

struct snapshot_image {
  uint64_t log_position = 0;  // index of the first audit record NOT covered
  int64_t taken_ms = 0;       // wall clock when written
  std::vector<std::string> users;
  std::vector<snapshot_session> sessions;
  std::vector<snapshot_lockout> lockouts;
  std::vector<snapshot_tombstone> tombstones;
};

// Writes <dir>/snapshot-<log_position as 20 zero-padded digits>.snap (mode 0600,
// creating `dir` if needed): a temp file beside it, written in large chunks,
// fdatasync'd, renamed, then the directory fsync'd. Then deletes all but the
// newest `keep` snapshot files (by position; the file just written is always
// kept, and `keep` 0 counts as 1) and any leftover temp files. Returns the
// bytes written. One writer per directory at a time.
// Throws std::runtime_error naming the path on any I/O error (the caller logs
// it; a failed snapshot is not fatal). If the error is about removing an old
// file, the new snapshot is already durable. Throws std::invalid_argument,
// before touching the disk, for an image that could not be loaded back (a
// session's user index out of range, a lockout kind > 2, a string longer than
// 65 535 bytes, a count or section over 2^32 - 1): that is a bug in the caller.
uint64_t write_snapshot(const std::string& dir, const snapshot_image& image, size_t keep);

struct snapshot_damage {
  std::string file;
  std::string why;  // "checksum mismatch ...", "truncated at byte N ...", "bad magic", ...
};

struct snapshot_load {
  std::optional<snapshot_image> image;   // the newest snapshot that verifies, if any
  std::string file;                      // its path
  std::vector<snapshot_damage> damaged;  // newer snapshots that did not verify, newest first
};

// Tries the snapshot files newest first (by position in the name); returns the
// first that verifies completely: header, whole-file checksum, every length
// and index in range, and the header's position equal to the name's. A missing
// dir is "no snapshot", not an error; a dir that exists but cannot be listed
// throws std::runtime_error (starting without the snapshot could lose sessions).
// Temp files are ignored.
snapshot_load load_latest_snapshot(const std::string& dir);

// The log positions of the snapshot files present (valid or not), ascending;
// for audit retention. A missing dir gives an empty list.
std::vector<uint64_t> snapshot_positions(const std::string& dir);

// The layout constants, shared by the writer, the reader and the tests.
namespace snapshot_format {

inline constexpr char magic[8] = {'C', 'S', 'T', 'L', 'S', 'N', 'A', 'P'};
inline constexpr uint32_t version = 2;
inline constexpr uint32_t oldest_readable_version = 1;
inline constexpr size_t header_bytes = 64;
inline constexpr size_t header_crc_offset = 60;
inline constexpr size_t session_bytes = 36;
inline constexpr size_t lockout_fixed_bytes = 17;  // kind, level, until_ms, two lengths
inline constexpr size_t tombstone_bytes = 24;
inline constexpr size_t trailer_bytes = 4;
inline constexpr size_t max_string = 65535;

// "snapshot-00000000000000000042.snap"
std::string file_name(uint64_t log_position);
// The log position in a snapshot file's name; nullopt if it is not one
// (temp files included).
std::optional<uint64_t> position_of(const std::string& file_name);

}  // namespace snapshot_format

}  // namespace castellan::actors
