// Session snapshots on disk: what is written is what is loaded; any damage to
// the newest file (a flipped byte anywhere, a truncation) is named and the
// load falls back to the previous snapshot; retention keeps the newest ones
// and sweeps leftover temp files.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "actors/storage/crc32c.hpp"
#include "actors/storage/session_snapshot.hpp"
#include "net/byte_order.hpp"

namespace castellan::actors {
namespace {

namespace fs = std::filesystem;
namespace fmt = snapshot_format;

class SessionSnapshotTest : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() /
                 ("castellan-snapshot-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { fs::remove_all(dir); }
  void TearDown() override { fs::remove_all(dir); }

  // Three users, four sessions, three lockouts (one of each kind); `position`
  // also varies the contents so that images of different positions differ.
  static snapshot_image sample(uint64_t position) {
    snapshot_image img;
    img.log_position = position;
    img.taken_ms = 1'700'000'000'000 + static_cast<int64_t>(position);
    img.users = {"alice", "bob", "a-rather-long-user-name-beyond-sso@example.org"};
    for (uint8_t i = 0; i < 4; ++i) {
      snapshot_session s;
      s.key.fill(static_cast<uint8_t>(0xA0 + i));
      s.key[15] = static_cast<uint8_t>(position);
      s.user = i % 3;
      s.created_ms = 1'000 * i - 5;  // a negative one too
      s.expires_ms = s.created_ms + 3'600'000;
      img.sessions.push_back(s);
    }
    img.lockouts = {{0, "bob", "", 2'000, 1},
                    {1, "", "2001:db8::1", 4'000, 2},
                    {2, "alice", "192.0.2.7", -1, 7}};
    for (uint8_t i = 0; i < 2; ++i) {
      snapshot_tombstone t;
      t.key.fill(static_cast<uint8_t>(0xE0 + i));
      t.until_ms = 7'200'000 + i;
      img.tombstones.push_back(t);
    }
    return img;
  }

  std::string path(uint64_t position) const { return (dir / fmt::file_name(position)).string(); }
  snapshot_load load() const { return load_latest_snapshot(dir.string()); }

  static std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  static void overwrite(const std::string& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  }
};

void expect_same(const snapshot_image& a, const snapshot_image& b) {
  EXPECT_EQ(a.log_position, b.log_position);
  EXPECT_EQ(a.taken_ms, b.taken_ms);
  EXPECT_EQ(a.users, b.users);
  ASSERT_EQ(a.sessions.size(), b.sessions.size());
  for (size_t i = 0; i < a.sessions.size(); ++i) {
    EXPECT_EQ(a.sessions[i].key, b.sessions[i].key) << "session " << i;
    EXPECT_EQ(a.sessions[i].user, b.sessions[i].user) << "session " << i;
    EXPECT_EQ(a.sessions[i].created_ms, b.sessions[i].created_ms) << "session " << i;
    EXPECT_EQ(a.sessions[i].expires_ms, b.sessions[i].expires_ms) << "session " << i;
  }
  ASSERT_EQ(a.lockouts.size(), b.lockouts.size());
  for (size_t i = 0; i < a.lockouts.size(); ++i) {
    EXPECT_EQ(a.lockouts[i].kind, b.lockouts[i].kind) << "lockout " << i;
    EXPECT_EQ(a.lockouts[i].user, b.lockouts[i].user) << "lockout " << i;
    EXPECT_EQ(a.lockouts[i].ip, b.lockouts[i].ip) << "lockout " << i;
    EXPECT_EQ(a.lockouts[i].until_ms, b.lockouts[i].until_ms) << "lockout " << i;
    EXPECT_EQ(a.lockouts[i].level, b.lockouts[i].level) << "lockout " << i;
  }
  ASSERT_EQ(a.tombstones.size(), b.tombstones.size());
  for (size_t i = 0; i < a.tombstones.size(); ++i) {
    EXPECT_EQ(a.tombstones[i].key, b.tombstones[i].key) << "tombstone " << i;
    EXPECT_EQ(a.tombstones[i].until_ms, b.tombstones[i].until_ms) << "tombstone " << i;
  }
}

TEST_F(SessionSnapshotTest, FileNamesCarryTheLogPositionZeroPaddedTo20Digits) {
  EXPECT_EQ(fmt::file_name(42), "snapshot-00000000000000000042.snap");
  EXPECT_EQ(fmt::position_of("snapshot-00000000000000000042.snap"), 42u);
  EXPECT_EQ(fmt::position_of("snapshot-18446744073709551615.snap"), UINT64_MAX);
  EXPECT_FALSE(fmt::position_of("snapshot-18446744073709551616.snap"));  // overflows
  EXPECT_FALSE(fmt::position_of("snapshot-00000000000000000042.snap.tmp"));
  EXPECT_FALSE(fmt::position_of("snapshot-42.snap"));
  EXPECT_FALSE(fmt::position_of("audit-00000001.log"));
}

// Version 1 had no tombstones, and zero where version 2 counts them: a
// version-1 file (as the previous release wrote it) still loads.
TEST_F(SessionSnapshotTest, AVersion1FileWithoutTombstonesStillLoads) {
  auto img = sample(7);
  img.tombstones.clear();
  write_snapshot(dir.string(), img, 1);
  auto bytes = read(path(7));
  ASSERT_EQ(bytes[8], 2);  // this build writes version 2
  bytes[8] = 1;
  uint8_t header[fmt::header_bytes];
  std::memcpy(header, bytes.data(), sizeof header);
  uint32_t header_crc = crc32c(0, header, fmt::header_crc_offset);
  for (int i = 0; i < 4; ++i)
    bytes[fmt::header_crc_offset + i] = static_cast<char>(header_crc >> (8 * i));
  uint32_t file_crc = crc32c(0, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size() - 4);
  for (int i = 0; i < 4; ++i)
    bytes[bytes.size() - 4 + i] = static_cast<char>(file_crc >> (8 * i));
  overwrite(path(7), bytes);
  auto loaded = load();
  ASSERT_TRUE(loaded.image) << (loaded.damaged.empty() ? "" : loaded.damaged[0].why);
  expect_same(*loaded.image, img);
}

TEST_F(SessionSnapshotTest, RoundTripKeepsSessionsUsersLockoutsAndTombstones) {
  auto img = sample(1234);
  uint64_t bytes = write_snapshot(dir.string(), img, 3);
  EXPECT_EQ(bytes, fs::file_size(path(1234)));
  auto loaded = load();
  ASSERT_TRUE(loaded.image);
  EXPECT_EQ(loaded.file, path(1234));
  EXPECT_TRUE(loaded.damaged.empty());
  expect_same(*loaded.image, img);
}

TEST_F(SessionSnapshotTest, EachSessionTakes36BytesAndEachUserNameIsStoredOnce) {
  snapshot_image img;
  img.users = {"carol"};
  img.sessions.resize(1000);  // all carol's
  uint64_t bytes = write_snapshot(dir.string(), img, 1);
  EXPECT_EQ(bytes, 64 + (2 + 5) + 1000 * 36 + 4);
}

TEST_F(SessionSnapshotTest, AnEmptyImageRoundTrips) {
  snapshot_image img;
  img.log_position = 1;
  write_snapshot(dir.string(), img, 1);
  auto loaded = load();
  ASSERT_TRUE(loaded.image);
  expect_same(*loaded.image, img);
}

TEST_F(SessionSnapshotTest, MissingOrEmptyDirectoryGivesNoImage) {
  auto missing = load();
  EXPECT_FALSE(missing.image);
  EXPECT_TRUE(missing.damaged.empty());
  EXPECT_TRUE(snapshot_positions(dir.string()).empty());

  fs::create_directories(dir);
  overwrite((dir / "unrelated.txt").string(), "not a snapshot");
  auto empty = load();
  EXPECT_FALSE(empty.image);
  EXPECT_TRUE(empty.damaged.empty());
}

TEST_F(SessionSnapshotTest, AFlippedByteAnywhereInTheNewestFallsBackToThePrevious) {
  write_snapshot(dir.string(), sample(10), 2);
  write_snapshot(dir.string(), sample(20), 2);
  const auto newest = path(20);
  const auto good = read(newest);
  for (size_t offset = 0; offset < good.size(); ++offset) {
    auto bad = good;
    bad[offset] = static_cast<char>(bad[offset] ^ 0x01);
    overwrite(newest, bad);
    auto loaded = load();
    ASSERT_TRUE(loaded.image) << "byte " << offset;
    EXPECT_EQ(loaded.image->log_position, 10u) << "byte " << offset;
    EXPECT_EQ(loaded.file, path(10));
    ASSERT_EQ(loaded.damaged.size(), 1u) << "byte " << offset;
    EXPECT_EQ(loaded.damaged[0].file, newest);
    EXPECT_FALSE(loaded.damaged[0].why.empty());
  }
  // What the reasons look like, by region:
  auto why_after_flip = [&](size_t offset) {
    auto bad = good;
    bad[offset] = static_cast<char>(bad[offset] ^ 0x01);
    overwrite(newest, bad);
    return load().damaged.at(0).why;
  };
  EXPECT_EQ(why_after_flip(0), "bad magic");
  EXPECT_EQ(why_after_flip(8), "unsupported format version 3 (this build reads 1 to 2)");
  EXPECT_EQ(why_after_flip(40), "header checksum mismatch");  // session count
  EXPECT_EQ(why_after_flip(100).rfind("checksum mismatch (stored ", 0), 0u);  // body
  EXPECT_EQ(why_after_flip(good.size() - 1).rfind("checksum mismatch", 0), 0u);  // trailer
}

TEST_F(SessionSnapshotTest, ATruncatedNewestFallsBackToThePrevious) {
  write_snapshot(dir.string(), sample(10), 2);
  write_snapshot(dir.string(), sample(20), 2);
  const auto newest = path(20);
  const auto good = read(newest);
  for (size_t length : {size_t{0}, size_t{30}, size_t{64}, size_t{100}, good.size() - 1}) {
    overwrite(newest, good.substr(0, length));
    auto loaded = load();
    ASSERT_TRUE(loaded.image) << "length " << length;
    EXPECT_EQ(loaded.image->log_position, 10u);
    ASSERT_EQ(loaded.damaged.size(), 1u);
    EXPECT_EQ(loaded.damaged[0].file, newest);
    EXPECT_EQ(loaded.damaged[0].why.rfind("truncated at byte " + std::to_string(length), 0), 0u)
        << loaded.damaged[0].why;
  }
  overwrite(newest, good + "extra");
  EXPECT_EQ(load().damaged.at(0).why, "5 unexpected bytes after the end at byte " +
                                          std::to_string(good.size()));
}

TEST_F(SessionSnapshotTest, EveryDamagedSnapshotIsReportedNewestFirst) {
  for (uint64_t pos : {10, 20, 30})
    write_snapshot(dir.string(), sample(pos), 3);
  overwrite(path(30), "garbage");
  overwrite(path(20), read(path(20)).substr(0, 80));
  auto loaded = load();
  ASSERT_TRUE(loaded.image);
  EXPECT_EQ(loaded.image->log_position, 10u);
  ASSERT_EQ(loaded.damaged.size(), 2u);
  EXPECT_EQ(loaded.damaged[0].file, path(30));
  EXPECT_EQ(loaded.damaged[1].file, path(20));

  overwrite(path(10), "");
  auto none = load();
  EXPECT_FALSE(none.image);
  EXPECT_EQ(none.damaged.size(), 3u);
}

// A file whose checksums are right but whose contents are not (a buggy writer
// or a crafted file) is still decoded with every index and length checked.
TEST_F(SessionSnapshotTest, AnOutOfRangeUserIndexIsNamedEvenWithAValidChecksum) {
  write_snapshot(dir.string(), sample(10), 1);
  auto bytes = read(path(10));
  size_t users_bytes = 0;
  for (const auto& u : sample(10).users)
    users_bytes += 2 + u.size();
  const size_t session1_user = fmt::header_bytes + users_bytes + fmt::session_bytes + 16;
  bytes[session1_user] = 7;
  uint32_t crc = crc32c(0, bytes.data(), bytes.size() - 4);
  net::store_le32(bytes.data() + bytes.size() - 4, crc);
  overwrite(path(10), bytes);
  auto loaded = load();
  EXPECT_FALSE(loaded.image);
  ASSERT_EQ(loaded.damaged.size(), 1u);
  EXPECT_EQ(loaded.damaged[0].why, "session 1: user index 7 out of range (3 users)");
}

TEST_F(SessionSnapshotTest, AFileRenamedToAnotherPositionIsNotTrusted) {
  write_snapshot(dir.string(), sample(10), 1);
  fs::rename(path(10), path(99));
  auto loaded = load();
  EXPECT_FALSE(loaded.image);
  EXPECT_EQ(loaded.damaged.at(0).why, "the name says log position 99, the header says 10");
}

TEST_F(SessionSnapshotTest, KeepTwoLeavesExactlyTheTwoNewest) {
  for (uint64_t pos : {5, 1, 30, 12, 7})  // order of writing does not matter, position does
    write_snapshot(dir.string(), sample(pos), 5);
  write_snapshot(dir.string(), sample(40), 2);
  EXPECT_EQ(snapshot_positions(dir.string()), (std::vector<uint64_t>{30, 40}));
  write_snapshot(dir.string(), sample(50), 2);
  EXPECT_EQ(snapshot_positions(dir.string()), (std::vector<uint64_t>{40, 50}));
}

TEST_F(SessionSnapshotTest, TheSnapshotJustWrittenIsNeverPruned) {
  write_snapshot(dir.string(), sample(100), 1);
  write_snapshot(dir.string(), sample(50), 1);  // older position, e.g. after a log reset
  EXPECT_EQ(snapshot_positions(dir.string()), (std::vector<uint64_t>{50, 100}));
  write_snapshot(dir.string(), sample(60), 0);  // keep 0 counts as 1
  EXPECT_EQ(snapshot_positions(dir.string()), (std::vector<uint64_t>{60, 100}));
}

TEST_F(SessionSnapshotTest, LeftoverTempFilesAreIgnoredByLoadAndRemovedByTheNextWrite) {
  write_snapshot(dir.string(), sample(10), 2);
  const auto leftover = path(20) + ".tmp";  // a crash mid-write
  overwrite(leftover, read(path(10)).substr(0, 50));
  auto loaded = load();
  ASSERT_TRUE(loaded.image);
  EXPECT_EQ(loaded.image->log_position, 10u);
  EXPECT_TRUE(loaded.damaged.empty());
  EXPECT_EQ(snapshot_positions(dir.string()), (std::vector<uint64_t>{10}));

  write_snapshot(dir.string(), sample(30), 2);
  EXPECT_FALSE(fs::exists(leftover));
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir))
    ++files;
  EXPECT_EQ(files, 2u);
}

TEST_F(SessionSnapshotTest, SnapshotPositionsListsValidAndDamagedFilesAscending) {
  for (uint64_t pos : {300, 20, 1000})
    write_snapshot(dir.string(), sample(pos), 3);
  overwrite(path(1000), "damaged");
  EXPECT_EQ(snapshot_positions(dir.string()), (std::vector<uint64_t>{20, 300, 1000}));
}

TEST_F(SessionSnapshotTest, AnImageThatCouldNotBeLoadedBackIsRejectedBeforeWriting) {
  auto bad_index = sample(10);
  bad_index.sessions[2].user = 3;
  EXPECT_THROW(write_snapshot(dir.string(), bad_index, 1), std::invalid_argument);
  auto bad_kind = sample(10);
  bad_kind.lockouts[0].kind = 3;
  EXPECT_THROW(write_snapshot(dir.string(), bad_kind, 1), std::invalid_argument);
  auto long_name = sample(10);
  long_name.users[0].assign(70'000, 'x');
  EXPECT_THROW(write_snapshot(dir.string(), long_name, 1), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(SessionSnapshotTest, AnUnwritableDirectoryThrowsNamingThePath) {
  fs::create_directories(dir);
  overwrite((dir / "file").string(), "");
  const auto under_a_file = (dir / "file" / "snapshots").string();
  try {
    write_snapshot(under_a_file, sample(10), 1);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(under_a_file), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace castellan::actors
