// The load tool's request data and metadata, turned into what the hot path
// sends: each distinct request serialized once, before the run.
//   --data '{"name":"x"}'  one JSON request (protobuf's JSON mapping)
//   --data @FILE           one JSON request per non-empty line, used in turn
//   (no --data)            one empty request
//   --metadata '{"k":"v"}' or 'k:v,k2:v2'
// Every failure names the problem: the line of FILE, the JSON error or the
// unknown field, as protobuf's JSON parser words it.
#ifndef BENCH_REQUEST_DATA_H_
#define BENCH_REQUEST_DATA_H_

#include <google/protobuf/descriptor.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bench/request_template.h"

namespace bench {

// Template values in --data (request_template.h).
struct TemplateOptions {
  // Distinct requests rendered when a template varies (.RequestNumber,
  // randomInt, randomPick): entry k of the ring is line k mod L of the data
  // (L lines), rendered with .RequestNumber = k. At most kMaxRing.
  int ring = 1000;
  std::uint64_t seed = 1;  // of randomInt and randomPick
  TemplateContext names;   // the method's names; request_number unused
  static constexpr int kMaxRing = 1'000'000;
};

// Parses `data` (as above) into messages of `type` (a descriptor from any
// pool) and returns their serialized bytes, in order. INVALID_ARGUMENT for
// bad JSON or a field `type` does not have, NOT_FOUND for a missing FILE,
// INVALID_ARGUMENT for a FILE without a request.
absl::StatusOr<std::vector<std::string>> SerializeRequests(const google::protobuf::Descriptor& type,
                                                           absl::string_view data);

// The same, each line first read as a template (request_template.h). If no
// line varies, one request per line as above (the method's names filled
// in); else exactly templates.ring requests, entry k rendered from line
// k mod L with .RequestNumber = k and random values drawn from a generator
// seeded with templates.seed (the same seed gives the same requests).
// INVALID_ARGUMENT also for a template error (with the line), a ring
// outside 1..kMaxRing or smaller than the number of lines, and a rendered
// request that is not valid JSON (with the entry and its text).
absl::StatusOr<std::vector<std::string>> SerializeRequests(const google::protobuf::Descriptor& type,
                                                           absl::string_view data,
                                                           const TemplateOptions& templates);

// One request of `type` from JSON, serialized.
absl::StatusOr<std::string> SerializeJsonRequest(const google::protobuf::Descriptor& type,
                                                 absl::string_view json);

// --metadata: a JSON object of strings, or "key:value,key:value" (a value
// may hold ':'; spaces around keys and values are dropped). Keys are
// lower-cased (HTTP/2 header names are). INVALID_ARGUMENT for an empty key,
// a pair without ':', a key gRPC would refuse, or a JSON value that is not
// a string.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseMetadata(
    absl::string_view metadata);

}  // namespace bench

#endif  // BENCH_REQUEST_DATA_H_
