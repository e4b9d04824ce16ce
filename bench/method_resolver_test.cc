#include "bench/method_resolver.h"

#include <google/protobuf/descriptor.pb.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "domain/inventory/catalog.h"
#include "grpc/health/v1/health.pb.h"
#include "test/inventory_test_server.h"
#include "test/loopback.h"
#include "test/temp_dir.h"

namespace {

using bench::CallName;
using bench::MethodResolver;
using bench::ParseCallName;
using Catch::Contains;

// The repository's proto directory (set by CMake).
const std::string kProtoDir = BENCH_PROTO_DIR;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

// `file` and, first, everything it imports, as FileDescriptorProtos.
void AddWithImports(const google::protobuf::FileDescriptor* file,
                    google::protobuf::FileDescriptorSet* set) {
  for (int i = 0; i < file->dependency_count(); ++i) AddWithImports(file->dependency(i), set);
  file->CopyTo(set->add_file());
}

TEST_CASE("load tool: ParseCallName takes Service/Method, ghz's Service.Method and a path",
          "[load_tool]") {
  for (const char* call : {"grpc.health.v1.Health/Check", "grpc.health.v1.Health.Check",
                           "/grpc.health.v1.Health/Check"}) {
    absl::StatusOr<CallName> name = ParseCallName(call);
    REQUIRE(name.ok());
    CHECK(name->service == "grpc.health.v1.Health");
    CHECK(name->method == "Check");
    CHECK(name->path() == "/grpc.health.v1.Health/Check");
  }
  for (const char* bad : {"", "Check", "Health/", "/Check", "a/b/c", "a/b.c"}) {
    absl::StatusOr<CallName> name = ParseCallName(bad);
    CHECK(name.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Message(name.status()), Contains("package.Service/Method"));
  }
}

TEST_CASE("load tool: proto files resolve a unary method and name what is missing", "[load_tool]") {
  auto resolver = MethodResolver::FromProtoFiles({"grpc/health/v1/health.proto"}, {kProtoDir});
  REQUIRE(resolver.ok());
  auto check = (*resolver)->FindMethod(*ParseCallName("grpc.health.v1.Health/Check"));
  REQUIRE(check.ok());
  CHECK((*check)->input_type()->full_name() == "grpc.health.v1.HealthCheckRequest");
  // Not the compiled-in descriptor: this one was parsed at run time.
  CHECK((*check)->file()->pool() != google::protobuf::DescriptorPool::generated_pool());

  // Server-streaming: loaded too (one request, a stream of answers).
  auto watch = (*resolver)->FindMethod(*ParseCallName("grpc.health.v1.Health/Watch"));
  REQUIRE(watch.ok());
  CHECK((*watch)->server_streaming());
  auto method = (*resolver)->FindMethod(*ParseCallName("grpc.health.v1.Health/Nope"));
  CHECK(method.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(Message(method.status()), Contains("no method 'Nope'"));
  CHECK_THAT(Message(method.status()), Contains("Check, Watch"));
  auto service = (*resolver)->FindMethod(*ParseCallName("grpc.health.v1.Nope/Check"));
  CHECK(service.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(Message(service.status()), Contains("'grpc.health.v1.Nope' not found"));
  CHECK_THAT(Message(service.status()), Contains("grpc.health.v1.Health"));
}

TEST_CASE("load tool: client-streaming and bidirectional methods are refused by name",
          "[load_tool]") {
  testing_util::TempDir dir("method_resolver");
  std::ofstream(dir.Path("streams.proto")) << R"(syntax = "proto3";
package streams;
message M { string s = 1; }
service S {
  rpc Up(stream M) returns (M);
  rpc Both(stream M) returns (stream M);
  rpc Down(M) returns (stream M);
}
)";
  auto resolver = MethodResolver::FromProtoFiles({"streams.proto"}, {dir.Path(".")});
  REQUIRE(resolver.ok());
  auto up = (*resolver)->FindMethod(*ParseCallName("streams.S/Up"));
  CHECK(up.status().code() == absl::StatusCode::kUnimplemented);
  CHECK_THAT(Message(up.status()), Contains("streams.S/Up is a client-streaming method"));
  auto both = (*resolver)->FindMethod(*ParseCallName("streams.S/Both"));
  CHECK(both.status().code() == absl::StatusCode::kUnimplemented);
  CHECK_THAT(Message(both.status()), Contains("is a bidirectional streaming method"));
  auto down = (*resolver)->FindMethod(*ParseCallName("streams.S/Down"));
  REQUIRE(down.ok());
  CHECK((*down)->server_streaming());
}

TEST_CASE("load tool: a proto file given by its path is found through its own directory",
          "[load_tool]") {
  auto resolver = MethodResolver::FromProtoFiles({kProtoDir + "/inventory.proto"}, {});
  REQUIRE(resolver.ok());
  CHECK((*resolver)
            ->FindMethod(*ParseCallName("inventory.InventoryService/GetProductAvailability"))
            .ok());
}

TEST_CASE(
    "load tool: a missing proto file, a bad import path and a syntax error fail with their names",
    "[load_tool]") {
  auto missing = MethodResolver::FromProtoFiles({"nope.proto"}, {kProtoDir});
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(Message(missing.status()), Contains("nope.proto: file not found"));
  auto bad_path = MethodResolver::FromProtoFiles({"inventory.proto"}, {"/nonexistent/dir"});
  CHECK(bad_path.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(Message(bad_path.status()), Contains("/nonexistent/dir"));

  testing_util::TempDir dir;
  const std::string broken =
      dir.WriteFile("broken.proto", "syntax = \"proto3\";\nmessage A {\n  int32 x = ;\n}\n");
  auto parsed = MethodResolver::FromProtoFiles({broken}, {});
  CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(parsed.status()), Contains("broken.proto:3:"));
  const std::string importer =
      dir.WriteFile("importer.proto", "syntax = \"proto3\";\nimport \"absent.proto\";\n");
  auto imported = MethodResolver::FromProtoFiles({importer}, {});
  CHECK(imported.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(imported.status()), Contains("absent.proto"));
}

TEST_CASE("load tool: a protoset resolves, and one without its imports is refused", "[load_tool]") {
  testing_util::TempDir dir;
  google::protobuf::FileDescriptorSet set;
  AddWithImports(grpc::health::v1::HealthCheckRequest::descriptor()->file(), &set);
  const std::string path = dir.WriteFile("health.protoset", set.SerializeAsString());
  auto resolver = MethodResolver::FromProtoset(path);
  REQUIRE(resolver.ok());
  CHECK((*resolver)->FindMethod(*ParseCallName("grpc.health.v1.Health.Check")).ok());

  google::protobuf::FileDescriptorProto importer;
  importer.set_name("importer.proto");
  importer.add_dependency("absent.proto");
  google::protobuf::FileDescriptorSet partial;
  *partial.add_file() = importer;
  auto refused =
      MethodResolver::FromProtoset(dir.WriteFile("partial.protoset", partial.SerializeAsString()));
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(Message(refused.status()), Contains("imports absent.proto"));
  CHECK_THAT(Message(refused.status()), Contains("--include_imports"));

  CHECK(MethodResolver::FromProtoset(dir.Path("none")).status().code() ==
        absl::StatusCode::kNotFound);
  auto garbage = MethodResolver::FromProtoset(dir.WriteFile("garbage", "\xff\xff not a set"));
  CHECK(garbage.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(garbage.status()), Contains("not a serialized FileDescriptorSet"));
}

TEST_CASE("load tool: reflection resolves a server's methods, or says to pass --proto",
          "[load_tool]") {
  auto options = testing_util::InventoryTestServer::DefaultOptions();
  options.reflection = true;
  testing_util::InventoryTestServer server(domain::inventory::SyntheticCatalog(10), options);
  const std::string target = "127.0.0.1:" + std::to_string(server.port());
  auto channel = testing_util::LoopbackChannel(server.port());
  auto resolver =
      MethodResolver::FromReflection(channel, target, "grpc.health.v1.Health", absl::Seconds(10));
  REQUIRE(resolver.ok());
  CHECK((*resolver)->source() == "reflection of " + target);
  CHECK((*resolver)->FindMethod(*ParseCallName("grpc.health.v1.Health/Check")).ok());
  auto inventory = MethodResolver::FromReflection(channel, target, "inventory.InventoryService",
                                                  absl::Seconds(10));
  REQUIRE(inventory.ok());
  CHECK((*inventory)
            ->FindMethod(*ParseCallName("inventory.InventoryService/GetProductAvailability"))
            .ok());

  auto unknown = MethodResolver::FromReflection(channel, target, "nope.Service", absl::Seconds(10));
  CHECK(unknown.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(Message(unknown.status()), Contains("'nope.Service' not found"));
  CHECK_THAT(Message(unknown.status()), Contains("grpc.health.v1.Health"));

  testing_util::InventoryTestServer plain(domain::inventory::SyntheticCatalog(10));
  auto refused =
      MethodResolver::FromReflection(testing_util::LoopbackChannel(plain.port()), "plain",
                                     "grpc.health.v1.Health", absl::Seconds(10));
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(Message(refused.status()), Contains("does not serve gRPC server reflection"));
  CHECK_THAT(Message(refused.status()), Contains("--proto"));

  auto unreachable = MethodResolver::FromReflection(
      testing_util::LoopbackChannel(1), "port 1", "grpc.health.v1.Health", absl::Milliseconds(300));
  CHECK(unreachable.status().code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(Message(unreachable.status()), Contains("cannot connect to port 1"));
}

}  // namespace
