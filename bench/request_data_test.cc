#include "bench/request_data.h"

#include <catch2/catch.hpp>

#include "bench/method_resolver.h"
#include "inventory.pb.h"
#include "test/temp_dir.h"

namespace {

using bench::ParseMetadata;
using bench::SerializeRequests;
using Catch::Contains;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

// GetProductAvailabilityRequest as parsed at run time from the repository's
// proto file, as the load tool sees it.
const google::protobuf::Descriptor& RequestType() {
  static auto* resolver =
      bench::MethodResolver::FromProtoFiles({"inventory.proto"}, {BENCH_PROTO_DIR})->release();
  return *(*resolver->FindMethod(
               *bench::ParseCallName("inventory.InventoryService/GetProductAvailability")))
              ->input_type();
}

TEST_CASE("load tool: JSON data is serialized as protobuf would serialize the message",
          "[load_tool]") {
  auto bytes = SerializeRequests(RequestType(), R"({"product_id": "sku-1"})");
  REQUIRE(bytes.ok());
  REQUIRE(bytes->size() == 1);
  inventory::GetProductAvailabilityRequest expected;
  expected.set_product_id("sku-1");
  CHECK((*bytes)[0] == expected.SerializeAsString());
  // The JSON name of the field too (lowerCamelCase).
  auto camel = SerializeRequests(RequestType(), R"({"productId": "sku-1"})");
  REQUIRE(camel.ok());
  CHECK((*camel)[0] == expected.SerializeAsString());
  // No --data: one empty request.
  auto none = SerializeRequests(RequestType(), "");
  REQUIRE(none.ok());
  CHECK(*none == std::vector<std::string>{""});
}

TEST_CASE("load tool: bad JSON and an unknown field fail, naming the problem", "[load_tool]") {
  auto bad = SerializeRequests(RequestType(), R"({"product_id": )");
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(bad.status()), Contains("--data: not a valid inventory."));
  auto unknown = SerializeRequests(RequestType(), R"({"color": "red"})");
  CHECK(unknown.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(unknown.status()), Contains("color"));
  auto wrong_type = SerializeRequests(RequestType(), R"({"product_id": 5})");
  CHECK(wrong_type.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("load tool: data from a file gives one request per line and names a bad line",
          "[load_tool]") {
  testing_util::TempDir dir;
  const std::string file =
      dir.WriteFile("requests.jsonl", "{\"product_id\": \"a\"}\n\n{\"product_id\": \"b\"}\n{}\n");
  auto bytes = SerializeRequests(RequestType(), "@" + file);
  REQUIRE(bytes.ok());
  REQUIRE(bytes->size() == 3);
  inventory::GetProductAvailabilityRequest b;
  b.set_product_id("b");
  CHECK((*bytes)[1] == b.SerializeAsString());
  CHECK((*bytes)[2].empty());

  const std::string broken =
      dir.WriteFile("broken.jsonl", "{\"product_id\": \"a\"}\n{\"nope\": 1}\n");
  auto refused = SerializeRequests(RequestType(), "@" + broken);
  CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(refused.status()), Contains("broken.jsonl line 2"));
  auto empty = SerializeRequests(RequestType(), "@" + dir.WriteFile("empty.jsonl", "\n\n"));
  CHECK_THAT(Message(empty.status()), Contains("holds no request"));
  auto missing = SerializeRequests(RequestType(), "@" + dir.Path("none.jsonl"));
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("load tool: metadata is a JSON object or key:value pairs", "[load_tool]") {
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  auto pairs = ParseMetadata("x-user: alice, X-Trace:a:b");
  REQUIRE(pairs.ok());
  CHECK(*pairs == Pairs{{"x-user", "alice"}, {"x-trace", "a:b"}});
  auto json = ParseMetadata(R"({"x-user": "alice"})");
  REQUIRE(json.ok());
  CHECK(*json == Pairs{{"x-user", "alice"}});
  CHECK(ParseMetadata("")->empty());

  CHECK_THAT(Message(ParseMetadata("novalue").status()), Contains("not key:value"));
  CHECK_THAT(Message(ParseMetadata("bad key:v").status()),
             Contains("not a valid gRPC metadata key"));
  CHECK_THAT(Message(ParseMetadata(":v").status()), Contains("empty"));
  CHECK_THAT(Message(ParseMetadata(R"({"n": 1})").status()), Contains("not a string"));
  CHECK_THAT(Message(ParseMetadata(R"({"n": )").status()), Contains("not a JSON object"));
}

}  // namespace
