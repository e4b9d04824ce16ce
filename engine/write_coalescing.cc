#include "engine/write_coalescing.h"

#include <grpc/grpc.h>

namespace engine {

#ifdef GRPC_HAS_COALESCE_WRITES

bool WriteCoalescingAvailable() { return true; }

ScopedWriteCoalescing::ScopedWriteCoalescing(bool enable) : active_(enable) {
  if (active_) previous_ = grpc_coalesce_writes_on_this_thread(1) != 0;
}

ScopedWriteCoalescing::~ScopedWriteCoalescing() {
  if (active_) grpc_coalesce_writes_on_this_thread(previous_ ? 1 : 0);
}

#else  // A gRPC without the project's patch (e.g. Debian's binary package).

bool WriteCoalescingAvailable() { return false; }

ScopedWriteCoalescing::ScopedWriteCoalescing(bool /*enable*/) {}

ScopedWriteCoalescing::~ScopedWriteCoalescing() = default;

#endif

}  // namespace engine
