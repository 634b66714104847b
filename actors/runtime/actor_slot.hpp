// Where the current handle of a supervised actor lives. A restart gives the
// actor a new handle; everyone who sends to it (the router, the event
// stream) reads the slot instead of keeping a copy, so messages reach the new
// incarnation. Read once per batch, not per request. Include only from
// actors/*.cpp (holds a CAF handle by value).
#pragma once

#include <memory>
#include <mutex>

namespace castellan::actors {

template <class Handle>
class actor_slot {
 public:
  Handle get() const {
    std::lock_guard<std::mutex> guard(mutex_);
    return handle_;
  }
  void set(Handle h) {
    std::lock_guard<std::mutex> guard(mutex_);
    handle_ = std::move(h);
  }
  // Drops the handle (the actor may then be freed).
  void clear() {
    std::lock_guard<std::mutex> guard(mutex_);
    handle_ = Handle{};
  }

 private:
  mutable std::mutex mutex_;
  Handle handle_;
};

template <class Handle>
using slot_ptr = std::shared_ptr<actor_slot<Handle>>;

template <class Handle>
slot_ptr<Handle> make_slot() {
  return std::make_shared<actor_slot<Handle>>();
}

}  // namespace castellan::actors
