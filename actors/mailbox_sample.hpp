// Samples an actor's mailbox depth into its gauge
// (castellan_actor_mailbox_depth). Call from the actor's own handlers only:
// counting moves newly arrived messages into the actor's private queue,
// which only the actor itself may touch. Hot actors call it once per work
// message (a batch), so the cost is one atomic exchange per batch.
#pragma once

#include <prometheus/gauge.h>

namespace castellan::actors {

template <class Self>
void sample_mailbox(Self* self, prometheus::Gauge* gauge) {
  if (gauge)
    gauge->Set(static_cast<double>(self->mailbox().size()));
}

}  // namespace castellan::actors
