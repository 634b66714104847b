// libFuzzer target: a cluster member's message bodies. The first byte picks
// the message type, the rest is its body; decoding must end in a message or
// an exception (the member drops it), never a crash.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

#include "net/peer_messages.hpp"

namespace {

using namespace castellan::net;

template <class... Message>
void unpack_one_of(uint8_t pick, std::string_view body) {
  size_t i = 0;
  ((i++ == pick % sizeof...(Message) ? (void)unpack_peer<Message>(body) : void()), ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    unpack_one_of<peer_hello, peer_challenge, peer_proof, peer_heartbeat, peer_leave, peer_ops,
                  peer_replies, peer_open, peer_replicate, peer_ack, peer_limit_check,
                  peer_limit_decision, peer_limit_outcome, peer_revoke, peer_revoke_done,
                  peer_handover_done>(data[0], body);
  } catch (const std::exception&) {
  }
  return 0;
}
