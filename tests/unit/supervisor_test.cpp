// The supervisor's strategies and restart intensity, on a real actor system:
// children announce each start to an observer; the test waits with bounded
// receives, never sleeps.
#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/runtime/atoms.hpp"
#include "actors/runtime/supervisor.hpp"

namespace castellan::actors {
namespace {

using namespace std::chrono_literals;

caf::behavior crashable(caf::event_based_actor*, int) {
  return {
    [](crash_atom) -> int { throw std::runtime_error("crash requested by the test"); },
  };
}

struct tree_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> observer;
  std::map<std::string, caf::actor> current;  // latest handle per child
  std::map<std::string, int> starts;

  tree_fixture() {
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    observer = std::make_unique<caf::scoped_actor>(*sys);
  }
  ~tree_fixture() {
    observer.reset();
    sys->await_all_actors_done();
  }

  child_spec child(const std::string& id, restart_policy r = restart_policy::permanent) {
    caf::actor obs = caf::actor_cast<caf::actor>(*observer);
    return {id,
            [obs, id](caf::actor_system& s) {
              auto a = s.spawn(crashable, 0);
              caf::anon_send(obs, id, a);
              return a;
            },
            r};
  }

  // Waits for `n` child starts; false on timeout.
  bool await_starts(int n) {
    for (int i = 0; i < n; ++i) {
      bool got = false;
      (*observer)->receive(
          [&](const std::string& id, caf::actor& a) {
            current[id] = a;
            ++starts[id];
            got = true;
          },
          caf::after(5s) >> [] {});
      if (!got)
        return false;
    }
    return true;
  }

  void crash(const std::string& id) { caf::anon_send(current[id], crash_atom_v); }
};

supervisor_spec spec_of(tree_fixture& f, supervision_strategy how, uint32_t intensity = 5) {
  supervisor_spec s;
  s.name = "test";
  s.strategy = how;
  s.intensity = intensity;
  s.period = 10s;
  s.children = {f.child("a"), f.child("b"), f.child("c")};
  return s;
}

TEST(Supervisor, OneForOneRestartsOnlyTheChildThatDied) {
  tree_fixture f;
  auto sup = spawn_supervisor(*f.sys, spec_of(f, supervision_strategy::one_for_one));
  ASSERT_TRUE(f.await_starts(3));
  auto a = f.current["a"], c = f.current["c"];
  f.crash("b");
  ASSERT_TRUE(f.await_starts(1));
  EXPECT_EQ(f.starts["b"], 2);
  EXPECT_EQ(f.current["a"], a);
  EXPECT_EQ(f.current["c"], c);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST(Supervisor, RestForOneRestartsTheChildAndThoseStartedAfterIt) {
  tree_fixture f;
  auto sup = spawn_supervisor(*f.sys, spec_of(f, supervision_strategy::rest_for_one));
  ASSERT_TRUE(f.await_starts(3));
  auto a = f.current["a"];
  f.crash("b");
  ASSERT_TRUE(f.await_starts(2));
  EXPECT_EQ(f.starts["a"], 1);
  EXPECT_EQ(f.starts["b"], 2);
  EXPECT_EQ(f.starts["c"], 2);
  EXPECT_EQ(f.current["a"], a);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST(Supervisor, OneForAllRestartsEveryChild) {
  tree_fixture f;
  auto sup = spawn_supervisor(*f.sys, spec_of(f, supervision_strategy::one_for_all));
  ASSERT_TRUE(f.await_starts(3));
  f.crash("c");
  ASSERT_TRUE(f.await_starts(3));
  EXPECT_EQ(f.starts["a"], 2);
  EXPECT_EQ(f.starts["b"], 2);
  EXPECT_EQ(f.starts["c"], 2);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST(Supervisor, TooManyRestartsEscalateToTheParent) {
  tree_fixture f;
  auto sup = spawn_supervisor(*f.sys, spec_of(f, supervision_strategy::one_for_one, 2));
  (*f.observer)->monitor(sup);
  ASSERT_TRUE(f.await_starts(3));
  for (int i = 0; i < 2; ++i) {
    f.crash("a");
    ASSERT_TRUE(f.await_starts(1));
  }
  f.crash("a");  // the third restart in the window is one too many
  std::string reason;
  (*f.observer)->receive(
      [&](caf::down_msg& d) { reason = caf::to_string(d.reason); },
      caf::after(5s) >> [] {});
  EXPECT_NE(reason.find("restart intensity exceeded by a"), std::string::npos) << reason;
}

TEST(Supervisor, TemporaryChildrenAreNotRestarted) {
  tree_fixture f;
  supervisor_spec s;
  s.name = "test";
  s.children = {f.child("once", restart_policy::temporary), f.child("always")};
  auto sup = spawn_supervisor(*f.sys, s);
  ASSERT_TRUE(f.await_starts(2));
  f.crash("once");
  f.crash("always");
  ASSERT_TRUE(f.await_starts(1));
  EXPECT_EQ(f.starts["once"], 1);
  EXPECT_EQ(f.starts["always"], 2);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST(Supervisor, SpecsAreCheckedWithNamedErrors) {
  supervisor_spec s;
  s.name = "x";
  s.children = {{"a", [](caf::actor_system&) { return caf::actor(); }}, {"a", nullptr}};
  EXPECT_NE(check_spec(s).find("child a has no start function"), std::string::npos) << check_spec(s);
  s.children[1].start = s.children[0].start;
  EXPECT_NE(check_spec(s).find("duplicate child id a"), std::string::npos);
  s.intensity = 0;
  EXPECT_NE(check_spec(s).find("positive"), std::string::npos);
}

}  // namespace
}  // namespace castellan::actors
