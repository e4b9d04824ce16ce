#include "test/scripted_inventory.h"

#include <catch2/catch.hpp>
#include <utility>

#include "test/inventory_methods.h"
#include "test/test_util.h"

namespace testing_util {
namespace {

using inventory::BatchGetProductAvailabilityRequest;
using inventory::BatchGetProductAvailabilityResponse;
using inventory::GetProductAvailabilityRequest;
using inventory::GetProductAvailabilityResponse;

engine::EngineOptions ScriptedEngineOptions() {
  engine::EngineOptions options;
  options.completion_queues = 1;
  options.requests_per_method = 16;
  options.drain_deadline = absl::Seconds(2);
  return options;
}

}  // namespace

ScriptedInventory::ScriptedInventory() : engine_(ScriptedEngineOptions()) {
  using Service = inventory::InventoryService::AsyncService;
  // Only the two look-ups are scripted; the rest say so.
  engine_.AddService<inventory::InventoryService>()
      .Unary(&Service::RequestBatchGetProductAvailability,
             [this](BatchResponder responder, const BatchGetProductAvailabilityRequest& request) {
               OnBatch(std::move(responder), request);
             })
      .Unary(&Service::RequestGetProductAvailability,
             [this](UnaryResponder responder, const GetProductAvailabilityRequest& request) {
               OnUnary(std::move(responder), request);
             })
      .Unimplemented(&Service::RequestReserveStock)
      .Unimplemented(&Service::RequestReleaseReservation)
      .Unimplemented(&Service::RequestSetStock)
      .Unimplemented(&Service::RequestWatchProductAvailability);
  absl::StatusOr<int> port = engine_.Start("127.0.0.1:0");
  REQUIRE(port.ok());
  port_ = *port;
}

ScriptedInventory::~ScriptedInventory() {
  Release();
  engine_.Shutdown();
}

void ScriptedInventory::SetQuantity(const std::string& id, int quantity) {
  absl::MutexLock lock(&mu_);
  quantities_[id] = quantity;
}

void ScriptedInventory::Park(bool park) {
  absl::MutexLock lock(&mu_);
  park_ = park;
}

void ScriptedInventory::FailNext(int calls, absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_next_ = calls;
  failure_ = std::move(status);
}

void ScriptedInventory::Release() {
  std::vector<ParkedBatch> batches;
  std::vector<ParkedUnary> unaries;
  {
    absl::MutexLock lock(&mu_);
    park_ = false;
    batches.swap(parked_batches_);
    unaries.swap(parked_unaries_);
  }
  for (ParkedBatch& parked : batches) Answer(parked.responder, parked.request);
  for (ParkedUnary& parked : unaries) Answer(parked.responder, parked.request);
}

bool ScriptedInventory::WaitParked(std::size_t calls) {
  return WaitUntil([&] {
    absl::MutexLock lock(&mu_);
    return parked_batches_.size() + parked_unaries_.size() >= calls;
  });
}

bool ScriptedInventory::AllParkedCancelled() {
  absl::MutexLock lock(&mu_);
  for (ParkedBatch& parked : parked_batches_) {
    if (!parked.responder.IsCancelled()) return false;
  }
  for (ParkedUnary& parked : parked_unaries_) {
    if (!parked.responder.IsCancelled()) return false;
  }
  return true;
}

std::vector<std::vector<std::string>> ScriptedInventory::batches() {
  absl::MutexLock lock(&mu_);
  return batches_;
}

std::vector<std::string> ScriptedInventory::peers() {
  absl::MutexLock lock(&mu_);
  return peers_;
}

std::vector<absl::Time> ScriptedInventory::deadlines() {
  absl::MutexLock lock(&mu_);
  return deadlines_;
}

std::int64_t ScriptedInventory::CallsStarted(const std::string& method) {
  return engine_.MethodStats(method).calls_started;
}

template <class Responder, class Request, class Parked>
void ScriptedInventory::Handle(Responder responder, const Request& request,
                               std::vector<Parked>& parked,
                               const std::function<void()>& record_request) {
  std::optional<absl::Status> failure;
  {
    absl::MutexLock lock(&mu_);
    record_request();
    peers_.push_back(responder.context().peer());
    deadlines_.push_back(responder.deadline());
    if (fail_next_ > 0) {
      --fail_next_;
      failure = failure_;
    } else if (park_) {
      parked.push_back({std::move(responder), request});
      return;
    }
  }
  if (failure.has_value()) {
    responder.Finish(*failure);
  } else {
    Answer(responder, request);
  }
}

void ScriptedInventory::OnBatch(BatchResponder responder,
                                const BatchGetProductAvailabilityRequest& request) {
  Handle(std::move(responder), request, parked_batches_, [&] {
    batches_.emplace_back(request.product_ids().begin(), request.product_ids().end());
  });
}

void ScriptedInventory::OnUnary(UnaryResponder responder,
                                const GetProductAvailabilityRequest& request) {
  Handle(std::move(responder), request, parked_unaries_, [] {});
}

int ScriptedInventory::Quantity(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = quantities_.find(id);
  return it == quantities_.end() ? 0 : it->second;
}

void ScriptedInventory::Answer(BatchResponder& responder,
                               const BatchGetProductAvailabilityRequest& request) {
  for (const std::string& id : request.product_ids()) {
    inventory::ProductAvailability* item = responder.response().add_items();
    item->set_product_id(id);
    item->set_quantity(Quantity(id));
    item->set_is_available(item->quantity() > 0);
  }
  responder.Finish();
}

void ScriptedInventory::Answer(UnaryResponder& responder,
                               const GetProductAvailabilityRequest& request) {
  responder.response().set_quantity(Quantity(request.product_id()));
  responder.response().set_is_available(responder.response().quantity() > 0);
  responder.Finish();
}

}  // namespace testing_util
