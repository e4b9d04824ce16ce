// An InventoryService whose behaviour the test scripts, on the engine: it
// records every request, answers from its own table (unknown ids: 0), and
// can hold calls (park) until released, or fail the next ones. Serves
// GetProductAvailability and BatchGetProductAvailability on an ephemeral
// loopback port. For clients of the inventory (the batching client).
#ifndef TEST_SCRIPTED_INVENTORY_H_
#define TEST_SCRIPTED_INVENTORY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "inventory.grpc.pb.h"

namespace testing_util {

class ScriptedInventory {
 public:
  using BatchResponder = engine::UnaryResponder<inventory::BatchGetProductAvailabilityResponse>;
  using UnaryResponder = engine::UnaryResponder<inventory::GetProductAvailabilityResponse>;

  ScriptedInventory();
  // Answers every parked call (responders must be answered before the
  // engine goes), then shuts the engine down.
  ~ScriptedInventory();
  ScriptedInventory(const ScriptedInventory&) = delete;
  ScriptedInventory& operator=(const ScriptedInventory&) = delete;

  int port() const { return port_; }
  void SetQuantity(const std::string& id, int quantity);
  // While set, calls are held (parked) instead of answered.
  void Park(bool park);
  // The next `calls` calls fail with `status`.
  void FailNext(int calls, absl::Status status);
  // Stops parking and answers every parked call.
  void Release();
  // Waits (a hang guard) until at least `calls` calls are parked.
  bool WaitParked(std::size_t calls);
  // Whether every parked call has been cancelled by its client.
  bool AllParkedCancelled();

  // What the server saw, per batch RPC, in arrival order.
  std::vector<std::vector<std::string>> batches();
  // Each call's peer and deadline, in arrival order (batch and unary).
  std::vector<std::string> peers();
  std::vector<absl::Time> deadlines();
  // The engine's count of calls started for `method` (inventory_methods.h).
  std::int64_t CallsStarted(const std::string& method);

 private:
  struct ParkedBatch {
    BatchResponder responder;
    inventory::BatchGetProductAvailabilityRequest request;
  };
  struct ParkedUnary {
    UnaryResponder responder;
    inventory::GetProductAvailabilityRequest request;
  };

  // Records the call (`record_request` runs under the lock first), then
  // fails it, parks it in `parked`, or answers it.
  template <class Responder, class Request, class Parked>
  void Handle(Responder responder, const Request& request, std::vector<Parked>& parked,
              const std::function<void()>& record_request);
  void OnBatch(BatchResponder responder,
               const inventory::BatchGetProductAvailabilityRequest& request);
  void OnUnary(UnaryResponder responder, const inventory::GetProductAvailabilityRequest& request);
  int Quantity(const std::string& id);
  void Answer(BatchResponder& responder,
              const inventory::BatchGetProductAvailabilityRequest& request);
  void Answer(UnaryResponder& responder, const inventory::GetProductAvailabilityRequest& request);

  engine::Engine engine_;
  int port_ = 0;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> quantities_ ABSL_GUARDED_BY(mu_);
  bool park_ ABSL_GUARDED_BY(mu_) = false;
  int fail_next_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  std::vector<ParkedBatch> parked_batches_ ABSL_GUARDED_BY(mu_);
  std::vector<ParkedUnary> parked_unaries_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<std::string>> batches_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> peers_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> deadlines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace testing_util

#endif  // TEST_SCRIPTED_INVENTORY_H_
