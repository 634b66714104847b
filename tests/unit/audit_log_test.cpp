// The audit log on disk: chained records that survive reopening, a flipped
// byte named by verify, a torn tail cut on open, corruption never cut,
// rotation and retention.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "actors/storage/audit_log.hpp"
#include "actors/storage/audit_reader.hpp"
#include "actors/storage/crc32c.hpp"
#include "net/byte_order.hpp"

namespace castellan::actors {
namespace {

namespace fs = std::filesystem;

class AuditLogTest : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() /
                 ("castellan-audit-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { fs::remove_all(dir); }
  void TearDown() override { fs::remove_all(dir); }

  audit_log_options options(uint64_t segment_bytes = 1 << 20) {
    return {dir.string(), segment_bytes, 0, 0, true, nullptr};
  }
  std::unique_ptr<audit_log> open(audit_recovery& r, uint64_t segment_bytes = 1 << 20) {
    return audit_log::open(options(segment_bytes), r);
  }
  static void write_records(audit_log& log, int n, const std::string& tag = "record") {
    for (int i = 0; i < n; ++i) {
      auto body = tag + "-" + std::to_string(i);
      log.append(body.data(), body.size());
    }
    log.commit();
  }
  std::string segment(int n) { return (dir / audit_format::segment_file_name(n)).string(); }
  static void poke(const std::string& path, uint64_t offset, const std::string& bytes) {
    int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
              static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  static char byte_at(const std::string& path, uint64_t offset) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    return static_cast<char>(in.get());
  }
};

TEST(Crc32c, MatchesTheRfc3720CheckValue) {
  EXPECT_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

TEST_F(AuditLogTest, RecordsSurviveReopeningAndTheChainContinues) {
  {
    audit_recovery r;
    auto log = open(r);
    write_records(*log, 10);
    EXPECT_EQ(log->next_index(), 11u);
  }
  audit_recovery r;
  auto log = open(r);
  EXPECT_EQ(r.next_index, 11u);
  EXPECT_TRUE(r.cut.empty());
  write_records(*log, 5, "more");
  std::vector<std::string> bodies;
  auto report = verify_log(dir.string(), [&](uint64_t, std::string_view b, auto&, uint64_t) {
    bodies.emplace_back(b);
  });
  EXPECT_FALSE(report.problem) << report.problem->what;
  EXPECT_EQ(report.records, 15u);
  EXPECT_EQ(bodies.front(), "record-0");
  EXPECT_EQ(bodies.back(), "more-4");
}

// The fault seam fails a commit as a disk would; whatever the failed write
// left is gone by the next open (nobody was told it was durable), and the
// next commit continues the chain.
TEST_F(AuditLogTest, AFailedCommitLeavesNothingAnOpenCouldFind) {
  for (auto fault : {storage_fault::write_fails, storage_fault::sync_fails, storage_fault::disk_full}) {
    fs::remove_all(dir);
    auto faults = std::make_shared<storage_faults>();
    auto opts = options();
    opts.faults = faults;
    {
      audit_recovery r;
      auto log = audit_log::open(opts, r);
      write_records(*log, 3, "kept");
      faults->arm(fault);
      log->append("lost-0", 6);
      log->append("lost-1", 6);
      EXPECT_THROW(log->commit(), audit_error);
      EXPECT_EQ(log->durable_next_index(), 4u);
    }  // no repair(), no clean close: as if the process died here
    {
      audit_recovery r;
      auto log = audit_log::open(opts, r);
      EXPECT_EQ(r.next_index, 4u) << static_cast<int>(fault);
      write_records(*log, 1, "after");
    }
    std::vector<std::string> bodies;
    auto report = verify_log(dir.string(), [&](uint64_t, std::string_view b, auto&, uint64_t) {
      bodies.emplace_back(b);
    });
    EXPECT_FALSE(report.problem);
    EXPECT_EQ(bodies, (std::vector<std::string>{"kept-0", "kept-1", "kept-2", "after-0"}));
  }
}

TEST(StorageFaults, EachArmedCommitFailsOnceThenNoneDo) {
  storage_faults f;
  EXPECT_EQ(f.take(), storage_fault::none);
  f.arm(storage_fault::sync_fails);
  f.arm(storage_fault::sync_fails);
  EXPECT_EQ(f.take(), storage_fault::sync_fails);
  EXPECT_EQ(f.take(), storage_fault::sync_fails);
  EXPECT_EQ(f.take(), storage_fault::none);
}

TEST_F(AuditLogTest, VerifyNamesTheRecordWithAFlippedByte) {
  audit_recovery r;
  auto log = open(r);
  write_records(*log, 5);
  // Record 3 starts after the header and two records of 40 + 8 bytes.
  uint64_t record3 = audit_format::header_bytes + 2 * (audit_format::record_header_bytes + 8);
  auto path = segment(1);
  poke(path, record3 + audit_format::record_header_bytes + 2,
       std::string(1, static_cast<char>(byte_at(path, record3 + 42) ^ 0x01)));
  auto report = verify_log(dir.string());
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->index, 3u);
  EXPECT_EQ(report.problem->offset, record3);
  EXPECT_NE(report.problem->what.find("CRC"), std::string::npos);
  EXPECT_EQ(report.records, 2u);
}

TEST_F(AuditLogTest, ARewrittenRecordWithAValidCrcBreaksTheChain) {
  audit_recovery r;
  auto log = open(r);
  write_records(*log, 3);
  // Forge record 2's body and fix up its CRC: only the hash chain can tell.
  uint64_t rec2 = audit_format::header_bytes + audit_format::record_header_bytes + 8;
  auto path = segment(1);
  poke(path, rec2 + audit_format::record_header_bytes, "RECORD-1");
  std::string data(audit_format::hash_bytes + 8, '\0');
  {
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(rec2 + 8));
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
  }
  uint8_t crc[4];
  net::store_be32(crc, crc32c(0, data.data(), data.size()));
  poke(path, rec2 + 4, std::string(reinterpret_cast<char*>(crc), 4));
  auto report = verify_log(dir.string());
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->index, 2u);
  EXPECT_NE(report.problem->what.find("chain"), std::string::npos);
}

TEST_F(AuditLogTest, ATornTailIsCutOnOpenAndNothingBeforeItIsLost) {
  {
    audit_recovery r;
    auto log = open(r);
    write_records(*log, 4);
  }
  // A crash mid-write: half of a fifth record reached the disk.
  uint64_t end = audit_format::header_bytes + 4 * (audit_format::record_header_bytes + 8);
  poke(segment(1), end, std::string("\x00\x00\x00\x08\x12\x34\x56\x78garbage", 15));
  EXPECT_TRUE(verify_log(dir.string()).problem);
  audit_recovery r;
  auto log = open(r);
  EXPECT_NE(r.cut.find("cut 15 bytes"), std::string::npos) << r.cut;
  EXPECT_EQ(r.next_index, 5u);
  write_records(*log, 1, "after");
  auto report = verify_log(dir.string());
  EXPECT_FALSE(report.problem);
  EXPECT_EQ(report.records, 5u);
}

TEST_F(AuditLogTest, ATruncatedFileIsRecoveredToo) {
  {
    audit_recovery r;
    auto log = open(r);
    write_records(*log, 3);
  }
  uint64_t mid = audit_format::header_bytes + 2 * (audit_format::record_header_bytes + 8) + 20;
  ASSERT_EQ(::truncate(segment(1).c_str(), static_cast<off_t>(mid)), 0);
  audit_recovery r;
  auto log = open(r);
  EXPECT_FALSE(r.cut.empty());
  EXPECT_EQ(r.next_index, 3u);
  write_records(*log, 2);
  EXPECT_FALSE(verify_log(dir.string()).problem);
}

TEST_F(AuditLogTest, CorruptionFollowedByGoodRecordsIsKeptNotCut) {
  {
    audit_recovery r;
    auto log = open(r);
    write_records(*log, 5);
  }
  uint64_t rec2 = audit_format::header_bytes + audit_format::record_header_bytes + 8;
  poke(segment(1), rec2 + 45, "X");
  audit_recovery r;
  auto log = open(r);
  EXPECT_TRUE(r.cut.empty());
  EXPECT_NE(r.corrupt.find("record 2"), std::string::npos) << r.corrupt;
  EXPECT_TRUE(fs::exists(segment(2)));
  EXPECT_EQ(byte_at(segment(1), rec2 + 45), 'X');  // evidence kept
  auto report = verify_log(dir.string());
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->index, 2u);
}

TEST_F(AuditLogTest, SegmentsRotateAndRetentionKeepsTheNewest) {
  audit_recovery r;
  auto opts = options(64 * 1024);
  opts.retain_segments = 3;
  auto log = audit_log::open(opts, r);
  std::string body(1000, 'x');
  for (int i = 0; i < 400; ++i) {
    log->append(body.data(), body.size());
    if (i % 10 == 9)
      log->commit();
  }
  log->commit();
  auto segments = list_segments(dir.string());
  EXPECT_EQ(segments.size(), 3u);
  auto report = verify_log(dir.string());
  EXPECT_FALSE(report.problem) << report.problem->what;
  EXPECT_GT(report.first_index, 1u);  // older records removed by retention
  EXPECT_EQ(report.first_index + report.records, log->next_index());
}

TEST_F(AuditLogTest, ARemovedMiddleSegmentIsDetected) {
  audit_recovery r;
  auto log = open(r, 64 * 1024);
  std::string body(1000, 'x');
  for (int i = 0; i < 200; ++i) {
    log->append(body.data(), body.size());
    log->commit();
  }
  ASSERT_GE(list_segments(dir.string()).size(), 3u);
  fs::remove(segment(2));
  auto report = verify_log(dir.string());
  ASSERT_TRUE(report.problem);
  EXPECT_NE(report.problem->what.find("missing"), std::string::npos) << report.problem->what;
}

}  // namespace
}  // namespace castellan::actors
