// lookup_session; see session_lookup.hpp.
#include "actors/sessions/session_lookup.hpp"

#include "net/owed_replies.hpp"

namespace castellan::actors {
using namespace castellan::net;  // this file speaks the client protocol throughout
namespace {

class lookup_sink final : public reply_sink {
 public:
  explicit lookup_sink(std::function<void(const net::reply_view&)> done) : done_(std::move(done)) {}

  void deliver(std::string&& frames, size_t) override {
    if (!done_)
      return;
    auto done = std::move(done_);
    done_ = nullptr;
    try {
      auto scan = scan_frame(frames, uint32_t(1) << 24);
      done(parse_reply(scan.body));
    } catch (const std::exception&) {
      reply_view broken;
      broken.error = "unavailable";
      broken.message = "the session's owner sent an unreadable reply";
      done(broken);
    }
  }

 private:
  std::function<void(const net::reply_view&)> done_;
};

}  // namespace

void lookup_session(net::request_backend& backend, const net::session_key& key,
                    std::function<void(const net::reply_view&)> done) {
  op_batch batch;
  batch.ops.push_back(session_op{0, op_kind::validate, 0, key});
  batch.owed.push_back(std::make_shared<owed_replies>(
      std::make_shared<lookup_sink>(std::move(done)), std::vector<owed_request>{{0, op_kind::validate}}));
  backend.submit_session_ops(std::move(batch));
}

}  // namespace castellan::actors
