// Conversions between absl::Status (used by domain code and handlers) and
// grpc::Status (what goes on the wire). The numeric codes are identical by
// design of both libraries.
#ifndef ENGINE_STATUS_H_
#define ENGINE_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace engine {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

inline absl::Status ToAbslStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace engine

#endif  // ENGINE_STATUS_H_
