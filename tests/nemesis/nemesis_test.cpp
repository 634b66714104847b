// The nemesis as a test: a short run with a fixed seed is part of the test
// command (CTest label `nemesis`); tools/nemesis.sh runs the same test with
// another seed and a longer schedule (CASTELLAN_NEMESIS_SEED,
// CASTELLAN_NEMESIS_SECONDS), and with TLS between members
// (CASTELLAN_NEMESIS_CLUSTER_TLS=1). It fails, never skips, when it cannot create its
// network namespace or nftables rules.
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>

#include "tests/e2e/authd_process.hpp"
#include "tests/nemesis/nemesis_run.hpp"

namespace castellan::nemesis {
namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(Nemesis, ShortSeededRun) {
  run_options o;
  o.seed = env_or("CASTELLAN_NEMESIS_SEED", 14);
  o.duration = std::chrono::seconds(env_or("CASTELLAN_NEMESIS_SECONDS", 75));
  o.dir = test::fresh_test_dir("nemesis");
  o.cluster_tls = env_or("CASTELLAN_NEMESIS_CLUSTER_TLS", 0) != 0;
  run_outcome r;
  try {
    r = run_nemesis(o);
  } catch (const std::exception& e) {
    FAIL() << "the nemesis could not run: " << e.what();
  }
  // Every violation, for whoever investigates; the summary shows two of each kind.
  std::ofstream all(o.dir / "violations.txt");
  for (auto& v : r.verdict.violations)
    all << "(" << v.rule << ") " << v.kind << ": " << v.detail << "\n";
  // The whole history, one operation a line (times in microseconds of the run).
  std::ofstream ops(o.dir / "history.tsv");
  ops << "index\tworker\tmember\top\tinvoked_us\tcompleted_us\tresult\tcode\tuser\ttoken\n";
  for (auto& op : r.recorded.ops)
    ops << op.index << "\t" << op.worker << "\t" << op.member << "\t" << name_of(op.type) << "\t" << op.invoked
        << "\t" << op.completed << "\t" << name_of(op.result) << "\t" << op.code << "\t" << op.user << "\t"
        << op.token << "\n";
  for (auto& f : r.recorded.faults)
    ops << "# fault " << f.describe() << "\n";
  std::cout << "nemesis: seed " << o.seed << ", " << r.schedule.size() << " faults:\n";
  for (auto& s : r.schedule)
    std::cout << "  " << s << "\n";
  std::cout << "nemesis verdict: " << r.verdict.summary() << "all violations: " << (o.dir / "violations.txt") << ", history: " << (o.dir / "history.tsv")
            << std::endl;

  EXPECT_GE(r.schedule.size(), 3u) << "too few faults ran to mean anything";
  EXPECT_GE(r.recorded.ops.size(), 1000u) << "too few operations ran to mean anything";
  EXPECT_TRUE(r.verdict.clean()) << "seed " << o.seed << ": " << r.verdict.summary();
  if (!::testing::Test::HasFailure())
    std::filesystem::remove_all(o.dir);
}

}  // namespace
}  // namespace castellan::nemesis
