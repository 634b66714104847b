// The front door's backend when the node is a cluster member: a request for
// a session this node does not own goes to its owner through the cluster
// node; everything it owns goes to the local router as before. It is also the
// event stream's replication_link (writes wait for the other holders) and
// the limiter's limiter_link (keys are checked on their owners) and the
// cluster node's host (what other members' traffic does here). Runs on the
// front door's threads and only ever sends, like the router.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/runtime/actor_slot.hpp"
#include "actors/cluster/cluster_node.hpp"
#include "actors/cluster/cluster_view.hpp"
#include "actors/audit/replication_link.hpp"
#include "actors/limiter/limiter_link.hpp"
#include "actors/router/session_router.hpp"

namespace prometheus {
class Counter;
}

namespace castellan::actors {

// -- routing decisions: plain functions of one cluster view -------------------

// Where a session op (validate, refresh, logout) goes.
enum class op_route {
  here,             // this node owns the key, or holds a copy and the op reads from any copy
  // A local read on a member whose lease lapsed (paused, or cut off from a
  // majority): others may have found it down and acknowledged writes
  // without it, so its copy may confirm a session (possibly stale, the
  // documented bound) but never deny one.
  here_confirm_only,
  owner,            // forwarded to view.owner_of(key_hash)
  refuse_unowned,   // no member owns sessions yet (everyone is joining)
  refuse_minority,  // a refresh on the minority side of a partition
  refuse_lapsed,    // an owner read or refresh here while this member's lease has lapsed
  refuse_incomplete,  // this member owns the key but lacks its complete copy
};
op_route route_session_op(const cluster_view& view, net::op_kind kind, bool local_read,
                          uint64_t key_hash, std::chrono::steady_clock::time_point now);
// Whether an owner answering `kind` must hold its lease: reads and
// refreshes, which a member that others took over could answer wrongly; a
// logout is never unsafe.
constexpr bool needs_lease(net::op_kind kind) { return kind != net::op_kind::logout; }

// The message of a refuse_lapsed.
extern const char* const lapsed_lease_refusal;
// The message of a refuse_incomplete (here, or on the owner a request was
// forwarded to).
extern const char* const incomplete_copy_refusal;

// Where a login's new session opens (the password was checked where the
// client asked): on the key's owner.
enum class open_route { here, owner, refuse_unowned };
open_route route_open(const cluster_view& view, uint64_t key_hash);

// The owner of `key_hash` when that is another member; empty when this node
// answers for the key itself (it owns it, or nobody owns anything yet).
std::string remote_owner(const cluster_view& view, uint64_t key_hash);

// The position a record replicates under: a session change by its session
// key, a lockout by its limiter key's bucket; nothing for any other record.
std::optional<uint64_t> replication_hash(const net::auth_event& e);

// The other members that must hold a copy of a change at `key_hash`: its
// holders under either ring (a joiner hears writes before it owns; a leaving
// member still sends what it changes), each once, never this node.
std::vector<const std::string*> replica_targets(const cluster_view& view, uint64_t key_hash);

class cluster_backend final : public net::request_backend,
                              public replication_link,
                              public limiter_link {
 public:
  // `router`, `shards` and the counters (may be null) outlive this backend.
  cluster_backend(session_router& router, std::vector<slot_ptr<session_shard>> shards,
                  std::vector<slot_ptr<limiter_shard>> limiters, std::string self, uint32_t replicas,
                  prometheus::Counter* minority_refusals = nullptr,
                  prometheus::Counter* lease_refusals = nullptr,
                  prometheus::Counter* incomplete_refusals = nullptr);
  ~cluster_backend() override;

  // The cluster node requests go through; set before traffic.
  void attach(caf::actor node);
  // What the cluster node calls back (its cluster_host), bound to this.
  cluster_host host(std::function<net::member_load()> load);

  cluster_view_ptr view() const { return view_.load(); }

  // request_backend
  void submit_session_ops(net::op_batch&& batch) override;
  void submit_login(net::login_job&& job, net::owed_ptr owed) override;
  void debug_crash(const net::session_key& key, std::string target, net::owed_ptr owed) override;
  void debug_populate(const net::session_key& key, uint64_t count, net::owed_ptr owed) override;
  net::node_health health() const override { return router_.health(); }
  void metrics_summary(uint64_t id, net::reply_buffer& out) const override {
    router_.metrics_summary(id, out);
  }
  void cluster_status(uint64_t id, net::reply_buffer& out) const override;
  void revoke_user(const net::session_key& caller, std::string user, net::owed_ptr owed) override;
  void note_refused_tokens(const std::string& ip, uint64_t count) override {
    router_.note_refused_tokens(ip, count);
  }

  // replication_link
  bool replicate(const std::vector<net::auth_event>& events, std::function<void(bool)> done) override;

  // limiter_link
  std::string limiter_owner(const limit_key& key) const override;
  void check_remote(const std::string& member, std::vector<limit_key> keys,
                    limit_part part) override;
  void teach_remote(const std::string& member, limit_outcome outcome) override;

 private:
  bool place_open(open_session& msg);
  void rebalance(std::shared_ptr<const actors::ring> before, std::shared_ptr<const actors::ring> after,
                 std::shared_ptr<const actors::ring> owners, cluster_host::send_fn send,
                 std::function<void(bool)> done);
  void apply(std::vector<net::auth_event> events, std::function<void(bool)> done);
  void open_for_peer(const net::peer_open& open, net::owed_ptr owed);
  // revoke_user's reach: every holder ends every copy it holds.
  void revoke_everywhere(const std::string& user, std::function<void(uint64_t, bool)> done);
  void revoke_round(const cluster_view& view, const std::string& user, bool rest,
                    std::function<void(uint64_t, bool)> done);
  void revoke_held_here(const std::string& user, bool rest, std::function<void(uint64_t, bool)> done);

  session_router& router_;
  std::vector<slot_ptr<session_shard>> shards_;
  std::vector<slot_ptr<limiter_shard>> limiters_;
  std::string self_;
  uint32_t replicas_;
  prometheus::Counter* minority_refusals_;
  prometheus::Counter* lease_refusals_;
  prometheus::Counter* incomplete_refusals_;
  std::unique_ptr<caf::actor> node_;
  std::atomic<cluster_view_ptr> view_;
};

}  // namespace castellan::actors
