// What the request fuzzers share: how an input is read as a sequence of
// operations, how an operation's payload reaches the parser as gRPC hands it
// to the engine, and how a broken invariant stops the run.
//
// An input is a sequence of records, each
//
//   [kind] [cut] [length, 2 bytes big-endian] [payload: `length` bytes]
//
// `kind` picks the operation (taken modulo the fuzzer's number of kinds),
// `cut` how the payload is split into slices (1 + cut % 4 slices, as gRPC
// may hand a message over in several), and the payload is the serialized
// request. A record cut short by the end of the input keeps what is there.
// fuzz/make_corpus.py writes inputs in this format.
#ifndef FUZZ_FUZZ_SUPPORT_H_
#define FUZZ_FUZZ_SUPPORT_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/internal/request_parser.h"

// libFuzzer calls it once before the first input (replay_main.cc too):
// silences protobuf's log, whose parse errors would cost most of the time.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace fuzz {

// Prints the broken invariant and aborts: libFuzzer (or the replay runner)
// reports the input as a crash and keeps it.
[[noreturn]] void Fail(absl::string_view condition, absl::string_view detail);

// Checks `condition`; the detail (absl::StrCat arguments) is only built on
// failure, so checks cost nothing on the fast path.
#define FUZZ_CHECK(condition, ...)                                         \
  do {                                                                     \
    if (!(condition)) ::fuzz::Fail(#condition, absl::StrCat(__VA_ARGS__)); \
  } while (0)

struct Operation {
  std::uint8_t kind = 0;
  std::uint8_t cut = 0;
  absl::string_view payload;
};

// Reads the records of one input, in order. The input must outlive it.
class OperationReader {
 public:
  OperationReader(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  // The next operation (its kind reduced modulo `kinds`), or false once the
  // input is used up.
  bool Next(int kinds, Operation& operation);

 private:
  absl::string_view rest_;
};

// `payload` as a ByteBuffer of 1 + cut % 4 slices of about equal length
// (fewer for a payload shorter than that; none for an empty one).
grpc::ByteBuffer WireBytes(absl::string_view payload, std::uint8_t cut);

// Parses the operation's payload exactly as the engine parses a request
// (engine::internal::ParseRequestMessage), and checks the engine's contract
// for a payload that does not parse: INVALID_ARGUMENT naming the type.
template <class Request>
absl::Status ParseAsEngine(const Operation& operation, Request& request) {
  grpc::ByteBuffer bytes = WireBytes(operation.payload, operation.cut);
  absl::Status parsed = engine::internal::ParseRequestMessage(bytes, request);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.code() == absl::StatusCode::kInvalidArgument, parsed.ToString());
    FUZZ_CHECK(absl::StrContains(parsed.message(), Request::descriptor()->full_name()),
               parsed.ToString());
  }
  return parsed;
}

// The status's code name, for check messages.
inline std::string CodeName(const absl::Status& status) {
  return absl::StatusCodeToString(status.code());
}

}  // namespace fuzz

#endif  // FUZZ_FUZZ_SUPPORT_H_
