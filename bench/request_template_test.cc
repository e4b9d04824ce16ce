#include "bench/request_template.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <set>

#include "bench/method_resolver.h"
#include "bench/request_data.h"
#include "inventory.pb.h"
#include "test/temp_dir.h"

namespace {

using bench::RequestTemplate;
using bench::TemplateContext;
using bench::TemplateOptions;
using Catch::Contains;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

const google::protobuf::Descriptor& RequestType() {
  static auto* resolver =
      bench::MethodResolver::FromProtoFiles({"inventory.proto"}, {BENCH_PROTO_DIR})->release();
  return *(*resolver->FindMethod(
               *bench::ParseCallName("inventory.InventoryService/GetProductAvailability")))
              ->input_type();
}

std::string IdOf(const std::string& bytes) {
  inventory::GetProductAvailabilityRequest request;
  REQUIRE(request.ParseFromString(bytes));
  return request.product_id();
}

TEST_CASE("load tool: template actions are replaced and names filled in", "[load_tool]") {
  auto parsed = RequestTemplate::Parse(
      R"({"a": "{{.RequestNumber}}", "b": "{{ .MethodName }}", "c": "{{.ServiceName}}",)"
      R"( "d": "{{.FullyQualifiedName}}", "e": "{{.InputName}}/{{.OutputName}}"})");
  REQUIRE(parsed.ok());
  CHECK(parsed->has_actions());
  CHECK(parsed->varies());
  TemplateContext context{42, "pkg.Svc", "Get", "pkg.Req", "pkg.Res"};
  std::mt19937_64 rng(1);
  CHECK(parsed->Render(context, rng) ==
        R"({"a": "42", "b": "Get", "c": "pkg.Svc", "d": "pkg.Svc.Get", "e": "pkg.Req/pkg.Res"})");

  auto names_only = RequestTemplate::Parse("x{{.MethodName}}y");
  REQUIRE(names_only.ok());
  CHECK(names_only->has_actions());
  CHECK_FALSE(names_only->varies());
  auto plain = RequestTemplate::Parse(R"({"product_id": "x"})");
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->has_actions());
  CHECK(plain->Render(context, rng) == R"({"product_id": "x"})");
}

TEST_CASE("load tool: randomInt and randomPick stay in range and reach every value",
          "[load_tool]") {
  auto ints = RequestTemplate::Parse("{{randomInt -2 3}}");
  REQUIRE(ints.ok());
  auto picks = RequestTemplate::Parse(R"({{randomPick "a" "b \"q\"" "c}}d"}})");
  REQUIRE(picks.ok());
  std::mt19937_64 rng(7);
  std::set<std::string> seen_ints, seen_picks;
  for (int i = 0; i < 2000; ++i) {
    seen_ints.insert(ints->Render({}, rng));
    seen_picks.insert(picks->Render({}, rng));
  }
  CHECK(seen_ints == std::set<std::string>{"-2", "-1", "0", "1", "2"});  // MAX excluded
  CHECK(seen_picks == std::set<std::string>{"a", "b \"q\"", "c}}d"});
}

TEST_CASE("load tool: template mistakes are named", "[load_tool]") {
  const std::pair<const char*, const char*> cases[] = {
      {"{{.RequestNumber", "is not closed by '}}'"},
      {"{{.Nope}}", "unknown action {{.Nope}}"},
      {"{{randomInt 5 5}}", "randomInt takes two integers MIN < MAX"},
      {"{{randomInt 1}}", "randomInt takes two integers MIN < MAX"},
      {"{{randomPick}}", "randomPick takes one or more quoted strings"},
      {"{{randomPick a}}", "randomPick takes one or more quoted strings"},
      {"{{randomPick \"a}}", "not closed"},
      {"{{.RequestNumber 3}}", "unknown action"},
  };
  for (const auto& [text, message] : cases) {
    auto parsed = RequestTemplate::Parse(text);
    INFO(text);
    CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Message(parsed.status()), Contains(message));
  }
}

TEST_CASE("load tool: a varying template makes a ring of distinct serialized requests",
          "[load_tool]") {
  TemplateOptions options;
  options.ring = 5;
  auto ring = bench::SerializeRequests(RequestType(), R"({"product_id": "sku-{{.RequestNumber}}"})",
                                       options);
  REQUIRE(ring.ok());
  REQUIRE(ring->size() == 5);
  for (int k = 0; k < 5; ++k) CHECK(IdOf((*ring)[k]) == "sku-" + std::to_string(k));

  // Lines of a file take turns: entry k is line k mod L, numbered k.
  testing_util::TempDir dir("request_template");
  const std::string path = dir.Path("data.jsonl");
  std::ofstream(path) << R"({"product_id": "a{{.RequestNumber}}"})"
                      << "\n\n"
                      << R"({"product_id": "b{{randomPick "x" "y"}}"})"
                      << "\n";
  options.ring = 6;
  auto lines = bench::SerializeRequests(RequestType(), "@" + path, options);
  REQUIRE(lines.ok());
  REQUIRE(lines->size() == 6);
  CHECK(IdOf((*lines)[0]) == "a0");
  CHECK(IdOf((*lines)[2]) == "a2");
  CHECK(IdOf((*lines)[4]) == "a4");
  for (int k : {1, 3, 5}) {
    const std::string id = IdOf((*lines)[k]);
    CHECK((id == "bx" || id == "by"));
  }
  // The same seed, the same requests; another seed, (here) others.
  auto again = bench::SerializeRequests(RequestType(), "@" + path, options);
  REQUIRE(again.ok());
  CHECK(*again == *lines);

  // No varying action: one request per line, no ring.
  options.names.method = "GetProductAvailability";
  auto fixed =
      bench::SerializeRequests(RequestType(), R"({"product_id": "{{.MethodName}}"})", options);
  REQUIRE(fixed.ok());
  REQUIRE(fixed->size() == 1);
  CHECK(IdOf((*fixed)[0]) == "GetProductAvailability");
}

TEST_CASE("load tool: ring limits and badly rendered requests are refused", "[load_tool]") {
  TemplateOptions options;
  const std::string data = R"({"product_id": "{{.RequestNumber}}"})";
  for (int ring : {0, TemplateOptions::kMaxRing + 1}) {
    options.ring = ring;
    auto refused = bench::SerializeRequests(RequestType(), data, options);
    CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Message(refused.status()), Contains("--data_ring must be in 1..1000000"));
  }
  testing_util::TempDir dir("request_template");
  const std::string path = dir.Path("three.jsonl");
  std::ofstream(path) << data << "\n" << data << "\n" << data << "\n";
  options.ring = 2;
  auto small = bench::SerializeRequests(RequestType(), "@" + path, options);
  CHECK_THAT(Message(small.status()), Contains("--data_ring=2 is smaller than the 3 requests"));
  // A number where the field wants a string renders to invalid JSON for it.
  options.ring = 3;
  auto bad =
      bench::SerializeRequests(RequestType(), R"({"product_id": {{.RequestNumber}}})", options);
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(bad.status()),
             Contains(R"(--data, rendered as request 0 ({"product_id": 0}))"));
  auto bad_line = bench::SerializeRequests(RequestType(), "@" + path + "x", options);
  CHECK(bad_line.status().code() == absl::StatusCode::kNotFound);
}

}  // namespace
