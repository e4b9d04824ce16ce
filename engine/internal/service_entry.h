// The engine's record of one generated service it serves, and the checks
// that make a registration mistake an error at Engine::Start rather than a
// silent hang or a mislabelled metric. Internal to the engine.
#ifndef ENGINE_INTERNAL_SERVICE_ENTRY_H_
#define ENGINE_INTERNAL_SERVICE_ENTRY_H_

#include <google/protobuf/descriptor.h>
#include <grpcpp/impl/service_type.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/internal/method_traits.h"

namespace engine::internal {

struct ServiceEntry {
  // "package.Service", from the generated code.
  std::string full_name;
  // From the generated descriptor pool; null if the service is not in it.
  const google::protobuf::ServiceDescriptor* descriptor = nullptr;
  // The service registered with gRPC: every method raw.
  std::unique_ptr<grpc::Service> raw;
  // One flag per method index: a handler was registered.
  std::vector<bool> handled;

  int method_count() const { return descriptor == nullptr ? 0 : descriptor->method_count(); }
};

// Looks `full_name` up in the generated descriptor pool. NOT_FOUND if it is
// not there (the service's generated .pb.cc is not linked in).
absl::StatusOr<const google::protobuf::ServiceDescriptor*> FindGeneratedService(
    const std::string& full_name);

// "package.Service/Method" for the metrics and MethodStats.
std::string FullMethodName(const google::protobuf::MethodDescriptor& method);

// OK if a handler of `request`/`response` types and `kind` can serve
// `method`; otherwise INVALID_ARGUMENT naming the method and what differs.
absl::Status CheckMethodSignature(const google::protobuf::MethodDescriptor& method,
                                  const google::protobuf::Descriptor& request,
                                  const google::protobuf::Descriptor& response, RpcKind kind);

// OK if every method of `entry` has a handler; otherwise FAILED_PRECONDITION
// naming each method without one.
absl::Status CheckEveryMethodHandled(const ServiceEntry& entry);

}  // namespace engine::internal

#endif  // ENGINE_INTERNAL_SERVICE_ENTRY_H_
