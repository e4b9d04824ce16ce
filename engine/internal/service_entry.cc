#include "engine/internal/service_entry.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace engine::internal {

absl::StatusOr<const google::protobuf::ServiceDescriptor*> FindGeneratedService(
    const std::string& full_name) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(full_name);
  if (service == nullptr) {
    return absl::NotFoundError(absl::StrCat("service ", full_name,
                                            " is not in the generated descriptor pool; link its "
                                            "generated .pb.cc into this program"));
  }
  return service;
}

std::string FullMethodName(const google::protobuf::MethodDescriptor& method) {
  return absl::StrCat(method.service()->full_name(), "/", method.name());
}

absl::Status CheckMethodSignature(const google::protobuf::MethodDescriptor& method,
                                  const google::protobuf::Descriptor& request,
                                  const google::protobuf::Descriptor& response, RpcKind kind) {
  const std::string name = FullMethodName(method);
  if (method.client_streaming()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " is client-streaming or bidirectional, which this engine does not serve"));
  }
  const bool server_streaming = kind == RpcKind::kServerStream;
  if (method.server_streaming() != server_streaming) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is ", method.server_streaming() ? "server-streaming" : "unary",
                     " but was registered as ", server_streaming ? "server-streaming" : "unary"));
  }
  if (method.input_type() != &request) {
    return absl::InvalidArgumentError(absl::StrCat(name, " takes ",
                                                   method.input_type()->full_name(),
                                                   " but its handler takes ", request.full_name()));
  }
  if (method.output_type() != &response) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " returns ", method.output_type()->full_name(),
                     " but its handler answers ", response.full_name()));
  }
  return absl::OkStatus();
}

absl::Status CheckEveryMethodHandled(const ServiceEntry& entry) {
  std::vector<std::string> missing;
  for (int i = 0; i < entry.method_count(); ++i) {
    if (!entry.handled[i]) missing.push_back(FullMethodName(*entry.descriptor->method(i)));
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "no handler for ", absl::StrJoin(missing, ", "),
      ": register each method of a service with Unary(), ServerStream() or Unimplemented(), "
      "or its calls would never be answered"));
}

}  // namespace engine::internal
