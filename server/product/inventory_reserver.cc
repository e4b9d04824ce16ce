#include "server/product/inventory_reserver.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/status.h"

namespace server::product {

std::string InventoryReserver::ServiceConfigJson(int retry_max_attempts) {
  return absl::StrCat(
      R"({"loadBalancingConfig":[{"round_robin":{}}],"methodConfig":[{)",
      R"("name":[{"service":"inventory.InventoryService","method":"ReserveStock"}],)",
      R"("retryPolicy":{"maxAttempts":)", retry_max_attempts,
      R"(,"initialBackoff":"0.01s","maxBackoff":"0.1s","backoffMultiplier":2,)",
      R"("retryableStatusCodes":["UNAVAILABLE"]}}]})");
}

InventoryReserver::InventoryReserver(InventoryReserverOptions options) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfigJson(options.retry_max_attempts));
  // A restarted inventory is found within about a second, not gRPC's
  // default of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, options.retry_max_attempts > 1 ? 1 : 0);
  args.SetString("product.channel_role", "reserve");  // its own connection
  if (!options.ssl_target_name_override.empty()) {
    args.SetSslTargetNameOverride(options.ssl_target_name_override);
  }
  channel_ = grpc::CreateCustomChannel(
      options.target,
      options.credentials != nullptr ? options.credentials : grpc::InsecureChannelCredentials(),
      args);
  stub_ = ::inventory::InventoryService::NewStub(channel_);
  if (options.observer != nullptr) {
    observer_ = options.observer->ObserveMethod("inventory.InventoryService/ReserveStock",
                                                engine::RpcType::kUnary);
  }
}

// Owned by the RPC until its callback runs.
struct InventoryReserver::Call {
  grpc::ClientContext context;
  ::inventory::ReserveStockRequest request;
  ::inventory::ReserveStockResponse response;
  Callback done;
  absl::Time started;
};

InventoryReserver::~InventoryReserver() {
  absl::MutexLock lock(&mu_);
  for (Call* call : in_flight_) call->context.TryCancel();
  while (!in_flight_.empty()) all_done_.Wait(&mu_);
}

void InventoryReserver::Reserve(const ::inventory::ReserveStockRequest& request,
                                absl::Time deadline, Callback done) {
  auto* call = new Call{{}, request, {}, std::move(done), absl::Now()};
  if (deadline != absl::InfiniteFuture()) call->context.set_deadline(absl::ToChronoTime(deadline));
  if (observer_ != nullptr) {
    observer_->OnStarted();
    observer_->OnMessageSent();  // the request, as go-grpc-prometheus counts a unary call
  }
  {
    absl::MutexLock lock(&mu_);
    in_flight_.insert(call);
  }
  stub_->async()->ReserveStock(&call->context, &call->request, &call->response,
                               [this, call](grpc::Status status) { OnDone(call, status); });
}

void InventoryReserver::OnDone(Call* call, const grpc::Status& status) {
  std::unique_ptr<Call> owned(call);
  if (observer_ != nullptr) {
    if (status.ok()) observer_->OnMessageReceived();
    observer_->OnHandled(status.error_code(), absl::Now() - call->started);
  }
  if (status.ok()) {
    std::move(call->done)(std::move(call->response));
  } else {
    std::move(call->done)(engine::ToAbslStatus(status));
  }
  absl::MutexLock lock(&mu_);
  in_flight_.erase(call);
  if (in_flight_.empty()) all_done_.SignalAll();
}

}  // namespace server::product
