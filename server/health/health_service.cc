#include "server/health/health_service.h"

#include <optional>

#include "absl/strings/str_cat.h"

namespace server::health {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// Sends the current status of one service whenever it differs from what this
// stream sent last; a slow reader only ever gets the newest status.
class HealthService::Watch final : public engine::StreamSource<HealthCheckResponse> {
 public:
  Watch(HealthService* health, std::string service, engine::StreamWaker waker)
      : health_(health), service_(std::move(service)), waker_(waker) {
    health_->AddWatch(service_, this);
  }

  engine::StreamStep Next(HealthCheckResponse& message) override {
    ServingStatus current = health_->CurrentStatus(service_);
    if (last_sent_ == current) return engine::StreamStep::kWait;
    last_sent_ = current;
    message.set_status(current);
    return engine::StreamStep::kSend;
  }

  void OnClosed(bool cancelled) override { health_->RemoveWatch(service_, this); }

  void Wake() const { waker_.Wake(); }

 private:
  HealthService* const health_;
  const std::string service_;
  const engine::StreamWaker waker_;
  std::optional<ServingStatus> last_sent_;
};

void HealthService::Register(engine::Engine& engine) {
  using Health = grpc::health::v1::Health;
  engine.AddService<Health>()
      .Unary(&Health::AsyncService::RequestCheck,
             [this](engine::UnaryResponder<HealthCheckResponse> responder,
                    const HealthCheckRequest& request) {
               std::optional<ServingStatus> status;
               {
                 absl::MutexLock lock(&mu_);
                 auto it = statuses_.find(request.service());
                 if (it != statuses_.end()) status = it->second;
               }
               if (!status.has_value()) {
                 responder.Finish(absl::NotFoundError(
                     absl::StrCat("unknown service '", request.service(), "'")));
                 return;
               }
               responder.response().set_status(*status);
               responder.Finish();
             },
             {.requests_posted = kCheckRequestsPerQueue, .watch_cancellation = false})
      .ServerStream(
          &Health::AsyncService::RequestWatch,
          [this](engine::StreamWaker waker, const HealthCheckRequest& request)
              -> absl::StatusOr<std::unique_ptr<engine::StreamSource<HealthCheckResponse>>> {
            return std::make_unique<Watch>(this, request.service(), waker);
          },
          {.requests_posted = kWatchStreamsPerQueue});
}

void HealthService::SetStatus(const std::string& service, ServingStatus status) {
  absl::MutexLock lock(&mu_);
  statuses_[service] = shutting_down_ ? HealthCheckResponse::NOT_SERVING : status;
  if (auto it = watches_.find(service); it != watches_.end()) {
    for (Watch* watch : it->second) watch->Wake();
  }
}

void HealthService::SetAllNotServing() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  for (auto& [service, status] : statuses_) status = HealthCheckResponse::NOT_SERVING;
  for (auto& [service, watches] : watches_) {
    for (Watch* watch : watches) watch->Wake();
  }
}

ServingStatus HealthService::CurrentStatus(const std::string& service) const {
  absl::MutexLock lock(&mu_);
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

void HealthService::AddWatch(const std::string& service, Watch* watch) {
  absl::MutexLock lock(&mu_);
  watches_[service].insert(watch);
}

void HealthService::RemoveWatch(const std::string& service, Watch* watch) {
  absl::MutexLock lock(&mu_);
  auto it = watches_.find(service);
  if (it == watches_.end()) return;
  it->second.erase(watch);
  if (it->second.empty()) watches_.erase(it);
}

}  // namespace server::health
