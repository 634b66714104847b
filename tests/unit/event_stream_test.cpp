// The event stream on a real actor system, with a fake audit writer the test
// answers by hand (durable, failed, or lost with a crash) and a fake
// replication link: a client hears `ok` only for what is durable on this
// node's log and on every replica, and `unavailable` otherwise, with the
// change undone. Bounded waits on what the writer receives; no sleeps.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/audit/event_stream.hpp"
#include "net/frame_codec.hpp"
#include "net/messages.hpp"
#include "net/owed_replies.hpp"

namespace castellan::actors {
namespace {

using namespace std::chrono_literals;
using net::event_kind;

// Every reply a connection was sent.
struct capture : net::reply_sink {
  std::mutex mutex;
  std::vector<net::reply_view> replies;
  void deliver(std::string&& frames, size_t) override {
    std::lock_guard<std::mutex> guard(mutex);
    std::string_view rest(frames);
    while (!rest.empty()) {
      auto scan = net::scan_frame(rest, 1 << 20);
      ASSERT_EQ(scan.status, net::frame_status::complete);
      replies.push_back(net::parse_reply(scan.body));
      rest.remove_prefix(scan.frame_bytes);
    }
  }
  size_t count() {
    std::lock_guard<std::mutex> guard(mutex);
    return replies.size();
  }
};

// What the fake writer was sent, kept for the test to answer.
struct writer_inbox {
  std::mutex mutex;
  std::condition_variable arrived;
  std::deque<audit_append> appends;

  // The next append the writer received, waiting at most `limit`.
  std::optional<audit_append> next(std::chrono::milliseconds limit = 5000ms) {
    std::unique_lock<std::mutex> lock(mutex);
    if (!arrived.wait_for(lock, limit, [&] { return !appends.empty(); }))
      return std::nullopt;
    auto a = std::move(appends.front());
    appends.pop_front();
    return a;
  }
};

// A typed actor with the audit writer's interface that only records.
audit_writer::behavior_type fake_writer(audit_writer::pointer, std::shared_ptr<writer_inbox> inbox) {
  return {
    [inbox](audit_append& a) {
      std::lock_guard<std::mutex> guard(inbox->mutex);
      inbox->appends.push_back(std::move(a));
      inbox->arrived.notify_all();
    },
    [](crash_atom) {},
  };
}

// What the real writer does after a group commit succeeded / failed.
void make_durable(audit_append& a) { release_durable(a); }
void fail(audit_append& a) { refuse_append(a, "audit log not writable"); }

// Other cluster members that hold copies; the test answers for them.
struct fake_replicas : replication_link {
  bool others_hold = true;
  std::mutex mutex;
  std::vector<std::vector<net::auth_event>> sent;
  std::deque<std::function<void(bool)>> waiting;

  bool replicate(const std::vector<net::auth_event>& events, std::function<void(bool)> done) override {
    if (!others_hold)
      return false;
    std::lock_guard<std::mutex> guard(mutex);
    sent.push_back(events);
    waiting.push_back(std::move(done));
    return true;
  }
  void answer(bool durable) {
    std::function<void(bool)> done;
    {
      std::lock_guard<std::mutex> guard(mutex);
      ASSERT_FALSE(waiting.empty()) << "nothing was replicated";
      done = std::move(waiting.front());
      waiting.pop_front();
    }
    done(durable);
  }
};

class EventStreamTest : public ::testing::Test {
 protected:
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<writer_inbox> inbox = std::make_shared<writer_inbox>();
  slot_ptr<audit_writer> slot = make_slot<audit_writer>();
  std::unique_ptr<event_stream> stream;
  std::vector<std::vector<net::auth_event>> heard;  // what the listener was told
  std::shared_ptr<capture> sink = std::make_shared<capture>();
  fake_replicas replicas;
  int undone = 0;

  void SetUp() override {
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    slot->set(caf::actor_cast<audit_writer>(sys->spawn(fake_writer, inbox)));
    stream = std::make_unique<event_stream>("node-a", slot);
    stream->set_listener([this](const std::vector<net::auth_event>& e) { heard.push_back(e); });
  }
  void TearDown() override {
    caf::anon_send_exit(slot->get(), caf::exit_reason::user_shutdown);
    slot->clear();
    sys->await_all_actors_done();
    inbox->appends.clear();
  }

  net::auth_event login_ok() {
    auto e = stream->make(event_kind::login_ok);
    e.user = "alice";
    e.session = std::string(32, 'a');
    return e;
  }
  // A login's reply owed to `sink`, released by the stream when durable.
  void publish_login(uint64_t id) {
    auto owed = std::make_shared<net::owed_replies>(
        sink, std::vector<net::owed_request>{{id, net::op_kind::login}});
    net::reply_buffer out;
    out.add(net::login_reply{id, true, "token", "alice", {}, 0});
    stream->publish_durable({login_ok()}, std::move(owed), std::move(out), {id}, [this] { ++undone; });
  }
  net::reply_view reply(size_t i) {
    std::lock_guard<std::mutex> guard(sink->mutex);
    return std::move(sink->replies.at(i));
  }
};

TEST_F(EventStreamTest, PublishTellsTheListenerAndRecordsWithNobodyWaiting) {
  stream->publish({stream->make(event_kind::token_refused), stream->make(event_kind::node_started)});
  ASSERT_EQ(heard.size(), 1u);  // on the publisher's thread, before publish returns
  EXPECT_EQ(heard[0].size(), 2u);
  auto a = inbox->next();
  ASSERT_TRUE(a);
  ASSERT_EQ(a->events.size(), 2u);
  EXPECT_EQ(a->events[0].kind, "token_refused");
  EXPECT_EQ(a->events[0].node, "node-a");
  EXPECT_FALSE(a->owed);
  EXPECT_FALSE(a->signal);
  EXPECT_FALSE(a->undo);
}

TEST_F(EventStreamTest, PublishingNothingRecordsNothing) {
  stream->publish({});
  stream->publish({stream->make(event_kind::node_stopping)});
  auto a = inbox->next();  // the writer's mailbox keeps one sender's order
  ASSERT_TRUE(a);
  EXPECT_EQ(a->events.at(0).kind, "node_stopping");
  EXPECT_EQ(heard.size(), 1u);
}

TEST_F(EventStreamTest, AReplyIsReleasedOnlyOnceItsRecordIsDurable) {
  publish_login(7);
  EXPECT_EQ(heard.size(), 0u);  // the limiter learns a login's outcome once it is durable
  auto a = inbox->next();
  ASSERT_TRUE(a);
  EXPECT_EQ(sink->count(), 0u);  // written, not yet durable: the client waits
  make_durable(*a);
  EXPECT_EQ(heard.size(), 1u);
  ASSERT_EQ(sink->count(), 1u);
  auto r = reply(0);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.id, 7u);
  EXPECT_EQ(undone, 0);
}

TEST_F(EventStreamTest, WhenTheLogCannotBeWrittenTheClientHearsUnavailableAndTheChangeIsUndone) {
  publish_login(8);
  auto a = inbox->next();
  ASSERT_TRUE(a);
  fail(*a);
  ASSERT_EQ(sink->count(), 1u);
  EXPECT_EQ(reply(0).error, "unavailable");
  EXPECT_EQ(undone, 1);
  EXPECT_EQ(heard.size(), 0u);  // a login told `unavailable` counts toward no lockout
}

TEST_F(EventStreamTest, AWriteLostWithACrashedWriterIsRefusedAndUndone) {
  publish_login(9);
  auto a = inbox->next();
  ASSERT_TRUE(a);
  a.reset();  // the writer died with the records in its buffer
  ASSERT_EQ(sink->count(), 1u);
  EXPECT_EQ(reply(0).error, "unavailable");
  EXPECT_EQ(undone, 1);
}

// -- in a cluster: the replicas must have it too ---------------------------------

TEST_F(EventStreamTest, WithReplicasTheReplyWaitsForTheLogAndEveryReplica) {
  stream->set_replication(&replicas);
  publish_login(1);
  publish_login(2);
  ASSERT_EQ(replicas.sent.size(), 2u);
  auto first = inbox->next(), second = inbox->next();
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(first->owed);  // the stream holds the reply until both have answered
  make_durable(*first);
  EXPECT_EQ(sink->count(), 0u);  // the log has it, the replicas not yet
  replicas.answer(true);
  ASSERT_EQ(sink->count(), 1u);
  EXPECT_TRUE(reply(0).ok);
  replicas.answer(true);  // the other order: replicas first, then the log
  EXPECT_EQ(sink->count(), 1u);
  make_durable(*second);
  ASSERT_EQ(sink->count(), 2u);
  EXPECT_TRUE(reply(1).ok);
  EXPECT_EQ(undone, 0);
}

TEST_F(EventStreamTest, EitherTheLogOrAReplicaFailingRefusesTheWriteAndUndoesIt) {
  stream->set_replication(&replicas);
  publish_login(1);  // the log fails, the replicas have it
  publish_login(2);  // the log has it, a replica refused
  auto first = inbox->next(), second = inbox->next();
  ASSERT_TRUE(first && second);
  fail(*first);
  replicas.answer(true);
  ASSERT_EQ(sink->count(), 1u);
  EXPECT_EQ(reply(0).error, "unavailable");
  make_durable(*second);
  replicas.answer(false);
  ASSERT_EQ(sink->count(), 2u);
  EXPECT_EQ(reply(1).error, "unavailable");
  EXPECT_EQ(undone, 2);
}

TEST_F(EventStreamTest, WhenNoOtherMemberHoldsTheSessionOnlyTheLogIsWaitedFor) {
  replicas.others_hold = false;
  stream->set_replication(&replicas);
  publish_login(3);
  auto a = inbox->next();
  ASSERT_TRUE(a);
  make_durable(*a);
  ASSERT_EQ(sink->count(), 1u);
  EXPECT_TRUE(reply(0).ok);
}

TEST_F(EventStreamTest, LockoutsGoToTheOtherHoldersOfTheirKeyWithNobodyWaiting) {
  stream->set_replication(&replicas);
  stream->publish({stream->make(event_kind::login_failed)});
  EXPECT_TRUE(replicas.sent.empty());
  auto started = stream->make(event_kind::lockout_started);
  started.reason = "user";
  started.user = "bob";
  stream->publish({started});
  ASSERT_EQ(replicas.sent.size(), 1u);
  EXPECT_EQ(replicas.sent[0].at(0).kind, "lockout_started");
  replicas.answer(false);  // nobody waits, whatever the replicas say
  EXPECT_TRUE(inbox->next() && inbox->next());
}

// -- durable without a client reply: revoke, replicas, hand-over -----------------

TEST_F(EventStreamTest, DoneSaysWhetherTheLogAndEveryReplicaHaveTheRecords) {
  std::vector<bool> said;
  auto done = [&](bool ok) { said.push_back(ok); };
  stream->publish_durable({login_ok()}, done);  // no replication link: the log alone
  auto a = inbox->next();
  ASSERT_TRUE(a);
  make_durable(*a);
  stream->set_replication(&replicas);
  stream->publish_durable({login_ok()}, done);
  auto b = inbox->next();
  ASSERT_TRUE(b);
  make_durable(*b);
  EXPECT_EQ(said.size(), 1u);  // waiting for the replicas
  replicas.answer(false);
  EXPECT_EQ(said, (std::vector<bool>{true, false}));
  EXPECT_EQ(heard.size(), 1u);  // learned only from the one made durable everywhere
}

TEST_F(EventStreamTest, RecordsFromOtherNodesAreAppendedButNotTaughtToTheListener) {
  std::vector<bool> said;
  stream->append_durable({}, [&](bool ok) { said.push_back(ok); });
  EXPECT_EQ(said, std::vector<bool>{true});  // nothing to append: durable at once
  stream->append_durable({login_ok()}, [&](bool ok) { said.push_back(ok); });
  auto a = inbox->next();
  ASSERT_TRUE(a);
  fail(*a);
  EXPECT_EQ(said, (std::vector<bool>{true, false}));
  EXPECT_TRUE(heard.empty());
}

}  // namespace
}  // namespace castellan::actors
