#include "fuzz/fuzz_support.h"

#include <google/protobuf/stubs/logging.h>
#include <grpcpp/impl/grpc_library.h>
#include <grpcpp/support/slice.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // A payload that is not valid UTF-8 makes protobuf log an error each time;
  // at fuzzing rates that is most of the run's time. The parser's answer is
  // what is checked.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

namespace {
// ByteBuffer and Slice call into gRPC through a global interface that the
// library's channel and server code installs. With gRPC linked statically
// (the project's release build) a fuzzer, which makes neither, would not
// pull that code in and crash on its first Slice: install it here.
grpc::internal::GrpcLibraryInitializer grpc_initializer;
}  // namespace

namespace fuzz {

void Fail(absl::string_view condition, absl::string_view detail) {
  std::fprintf(stderr, "\nFUZZ INVARIANT BROKEN: %.*s\n  %.*s\n",
               static_cast<int>(condition.size()), condition.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

bool OperationReader::Next(int kinds, Operation& operation) {
  if (rest_.size() < 2) return false;
  operation.kind = static_cast<std::uint8_t>(static_cast<std::uint8_t>(rest_[0]) % kinds);
  operation.cut = static_cast<std::uint8_t>(rest_[1]);
  rest_.remove_prefix(2);
  std::size_t length = 0;
  for (int i = 0; i < 2 && !rest_.empty(); ++i) {
    length = length << 8 | static_cast<std::uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
  }
  operation.payload = rest_.substr(0, length);
  rest_.remove_prefix(operation.payload.size());
  return true;
}

grpc::ByteBuffer WireBytes(absl::string_view payload, std::uint8_t cut) {
  std::size_t count = 1 + cut % 4;
  if (count > payload.size()) count = payload.size();
  std::vector<grpc::Slice> slices;
  slices.reserve(count);
  std::size_t begin = 0;
  for (std::size_t i = 1; i <= count; ++i) {
    const std::size_t end = payload.size() * i / count;
    slices.emplace_back(payload.data() + begin, end - begin);
    begin = end;
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

}  // namespace fuzz
