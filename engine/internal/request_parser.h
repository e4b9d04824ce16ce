// How the engine turns request bytes taken raw off the wire into the
// method's message: the one implementation behind CallSlot::ParseRequest,
// on its own so the request fuzzers (fuzz/) run exactly what a call runs.
// Not part of the engine's public surface.
#ifndef ENGINE_INTERNAL_REQUEST_PARSER_H_
#define ENGINE_INTERNAL_REQUEST_PARSER_H_

// gRPC 1.51 has the protobuf SerializationTraits only under impl/codegen/.
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace engine::internal {

// Parses `bytes` into `request` with gRPC's own deserializer for the type
// (grpc::SerializationTraits), which consumes `bytes`. A payload that does
// not parse is the client's mistake, so it is INVALID_ARGUMENT naming the
// message type (gRPC would answer a generic INTERNAL); `request` is then in
// an unspecified but valid state. Thread-compatible.
template <class Request>
absl::Status ParseRequestMessage(grpc::ByteBuffer& bytes, Request& request) {
  if (grpc::SerializationTraits<Request>::Deserialize(&bytes, &request).ok()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the request is not a valid ", Request::descriptor()->full_name(),
                   " message (malformed protobuf, or a string field that is not valid UTF-8)"));
}

}  // namespace engine::internal

#endif  // ENGINE_INTERNAL_REQUEST_PARSER_H_
