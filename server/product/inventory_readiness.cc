#include "server/product/inventory_readiness.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "absl/time/clock.h"

namespace server::product {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

namespace {

std::shared_ptr<grpc::Channel> MakeChannel(const InventoryReadinessOptions& options) {
  grpc::ChannelArguments args;
  if (!options.ssl_target_name_override.empty()) {
    args.SetSslTargetNameOverride(options.ssl_target_name_override);
  }
  return grpc::CreateCustomChannel(
      options.target,
      options.credentials != nullptr ? options.credentials : grpc::InsecureChannelCredentials(),
      args);
}

}  // namespace

InventoryReadiness::InventoryReadiness(InventoryReadinessOptions options,
                                       server::health::HealthService& health, std::string service)
    : options_(std::move(options)),
      health_(health),
      service_(std::move(service)),
      stub_(grpc::health::v1::Health::NewStub(MakeChannel(options_))),
      thread_([this] { Run(); }) {}

InventoryReadiness::~InventoryReadiness() { Stop(); }

void InventoryReadiness::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

bool InventoryReadiness::CheckOnce() {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  HealthCheckRequest request;
  request.set_service(options_.inventory_service);
  HealthCheckResponse response;
  const grpc::Status status = stub_->Check(&context, request, &response);
  if (status.ok() && response.status() == HealthCheckResponse::SERVING) return true;
  spdlog::debug("inventory health check failed: {}",
                status.ok() ? HealthCheckResponse::ServingStatus_Name(response.status())
                            : status.error_message());
  return false;
}

void InventoryReadiness::Run() {
  int failures = 0;
  do {
    const bool ok = CheckOnce();
    checks_.fetch_add(1, std::memory_order_release);  // before the status it leads to
    failures = ok ? 0 : failures + 1;
    const bool was_ready = ready_.load(std::memory_order_relaxed);
    if (ok && !was_ready) {
      health_.SetStatus(service_, HealthCheckResponse::SERVING);
      ready_.store(true, std::memory_order_release);
      spdlog::info("the inventory answers again: {} is SERVING", service_);
    } else if (!ok && was_ready && failures >= kFailuresToUnready) {
      health_.SetStatus(service_, HealthCheckResponse::NOT_SERVING);
      ready_.store(false, std::memory_order_release);
      spdlog::warn(
          "the inventory failed {} health checks in a row: {} is NOT_SERVING (liveness "
          "stays SERVING)",
          failures, service_);
    }
  } while (!stop_.WaitForNotificationWithTimeout(options_.interval));
}

}  // namespace server::product
