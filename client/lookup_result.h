// What one look-up of the batching client answers, without gRPC: included
// by client/batching_inventory_client.h (the header users include) and by
// the client's gRPC-free parts (client/internal/lookup_queue.h).
#ifndef CLIENT_LOOKUP_RESULT_H_
#define CLIENT_LOOKUP_RESULT_H_

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

namespace client {

// The stock of one product, as GetProductAvailability reports it. An unknown
// product is {false, 0}, not an error (the service's contract).
struct LookupResult {
  bool is_available = false;  // quantity > 0
  std::int32_t quantity = 0;
};

// Receives the outcome of one look-up, exactly once. See
// BatchingInventoryClient::Lookup() for where it runs and which statuses it
// can see.
using LookupCallback = absl::AnyInvocable<void(absl::StatusOr<LookupResult>) &&>;

}  // namespace client

#endif  // CLIENT_LOOKUP_RESULT_H_
