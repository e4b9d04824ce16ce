#include "metrics/build_info.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <regex>
#include <string>
#include <vector>

namespace metrics {
namespace {

std::string Scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

// The build_info sample lines of a scrape.
std::vector<std::string> BuildInfoLines(const std::string& text) {
  std::vector<std::string> lines;
  const std::regex sample("^build_info\\{.*$", std::regex::multiline);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), sample);
       it != std::sregex_iterator(); ++it) {
    lines.push_back(it->str());
  }
  return lines;
}

TEST_CASE("build_info is one gauge at 1 labelled with the project's and gRPC's versions") {
  prometheus::Registry registry;
  AddBuildInfo(registry);
  const std::string text = Scrape(registry);
  CHECK_THAT(text, Catch::Contains("# TYPE build_info gauge"));
  const std::vector<std::string> lines = BuildInfoLines(text);
  REQUIRE(lines.size() == 1);
  // CQENGINE_PROJECT_VERSION comes from project(... VERSION) by a compile
  // definition, not through engine/version.h.
  const std::string expected = "build_info{grpc_version=\"" + std::string(grpc::Version()) +
                               "\",protobuf_version=\"" + BuildInfoLabels().at("protobuf_version") +
                               "\",version=\"" + CQENGINE_PROJECT_VERSION + "\"} 1";
  CHECK(lines[0] == expected);
  const std::regex dotted("[0-9]+\\.[0-9]+\\.[0-9]+");
  CHECK(std::regex_match(std::string(grpc::Version()), dotted));
  CHECK(std::regex_match(BuildInfoLabels().at("protobuf_version"), dotted));
}

TEST_CASE("adding build_info twice to a registry still exports it once") {
  prometheus::Registry registry;
  AddBuildInfo(registry);
  AddBuildInfo(registry);
  CHECK(BuildInfoLines(Scrape(registry)).size() == 1);
}

}  // namespace
}  // namespace metrics
