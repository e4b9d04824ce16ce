#include "server/host/reflection_metrics.h"

#include <grpcpp/support/interceptor.h>

#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace server::host {
namespace {

using grpc::experimental::InterceptionHookPoints;

// One reflection call: created when gRPC starts the call, destroyed after it.
class ObservedCall : public grpc::experimental::Interceptor {
 public:
  explicit ObservedCall(engine::MethodObserver& method) : method_(method), start_(absl::Now()) {
    method_.OnStarted();
  }
  // A call that ended without sending a status (its client went away).
  ~ObservedCall() override {
    if (!handled_) method_.OnHandled(grpc::StatusCode::CANCELLED, absl::Now() - start_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    // A read that found the end of the stream has no message.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      method_.OnMessageReceived();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      method_.OnMessageSent();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) && !handled_) {
      handled_ = true;
      method_.OnHandled(methods->GetSendStatus().error_code(), absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  engine::MethodObserver& method_;
  const absl::Time start_;
  bool handled_ = false;  // gRPC runs one call's interceptions one at a time
};

class ReflectionMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ReflectionMetricsFactory(engine::MethodObserver* method) : method_(method) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    absl::string_view name = info->method();  // "/package.Service/Method"
    if (method_ == nullptr || !absl::ConsumePrefix(&name, "/") || name != kReflectionMethod) {
      return nullptr;
    }
    return new ObservedCall(*method_);
  }

 private:
  engine::MethodObserver* const method_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> ReflectionMetrics(
    engine::RpcObserver& observer) {
  return std::make_unique<ReflectionMetricsFactory>(
      observer.ObserveMethod(kReflectionMethod, engine::RpcType::kBidiStream));
}

}  // namespace server::host
