// Samples an actor's mailbox depth into its gauge
// (castellan_actor_mailbox_depth): the messages already taken into the
// actor's private queue and not yet handled. Call from the actor's own
// handlers only (only the actor touches that queue). It does not count what
// arrived since the actor's current round began: mailbox().size() would,
// but it moves those messages over first, and that path trips UBSan inside
// CAF's intrusive queue. Cost: a few loads per batch.
#pragma once

#include <prometheus/gauge.h>

namespace castellan::actors {

template <class Self>
void sample_mailbox(Self* self, prometheus::Gauge* gauge) {
  if (gauge)
    gauge->Set(static_cast<double>(self->mailbox().queue().total_task_size()));
}

}  // namespace castellan::actors
