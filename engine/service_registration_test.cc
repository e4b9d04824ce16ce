// Registration mistakes a new user makes, each of which used to fail
// silently (a call hanging to its deadline, a sync thread pool answering
// UNIMPLEMENTED, mislabelled metrics), must now fail Engine::Start with a
// message naming the method; and what is registered is served under the
// descriptor's names. Real engine, real loopback server, real stub.
#include "engine/service_registration.h"

#include <google/protobuf/empty.pb.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "engine/engine.h"
#include "engine_test.grpc.pb.h"
#include "registration_test.grpc.pb.h"
#include "test/loopback.h"
#include "test/test_util.h"

namespace {

using enginetest::Message;
using enginetest::TestService;
using Service = TestService::AsyncService;

void Echo(engine::UnaryResponder<Message> rpc, const Message& request) {
  rpc.response().set_text(request.text());
  rpc.Finish();
}

absl::StatusOr<std::unique_ptr<engine::StreamSource<Message>>> NoStream(engine::StreamWaker,
                                                                        const Message&) {
  return absl::FailedPreconditionError("not streaming in this test");
}

engine::EngineOptions OneQueue() {
  engine::EngineOptions options;
  options.completion_queues = 1;
  options.requests_per_method = 2;
  return options;
}

// Records the method names the engine reports to its observer.
class RecordingObserver final : public engine::RpcObserver {
 public:
  engine::MethodObserver* ObserveMethod(const std::string& full_method,
                                        engine::RpcType type) override {
    absl::MutexLock lock(&mu_);
    names_.insert(full_method + (type == engine::RpcType::kUnary ? " unary" : " stream"));
    return nullptr;
  }
  std::set<std::string> names() {
    absl::MutexLock lock(&mu_);
    return names_;
  }

 private:
  absl::Mutex mu_;
  std::set<std::string> names_ ABSL_GUARDED_BY(mu_);
};

TEST_CASE("a method of an added service without a handler fails Start, naming it",
          "[engine][registration]") {
  engine::Engine engine(OneQueue());
  engine.AddService<TestService>().Unary(&Service::RequestUnary, Echo);
  absl::StatusOr<int> port = engine.Start("127.0.0.1:0");
  REQUIRE_FALSE(port.ok());
  CHECK(port.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(port.status().message()),
             Catch::Contains("no handler for enginetest.TestService/Stream"));
  CHECK_THAT(std::string(port.status().message()),
             !Catch::Contains("enginetest.TestService/Unary"));
}

TEST_CASE("a service added with no methods at all lists every method", "[engine][registration]") {
  engine::Engine engine(OneQueue());
  engine.AddService<TestService>();
  absl::StatusOr<int> port = engine.Start("127.0.0.1:0");
  REQUIRE_FALSE(port.ok());
  CHECK_THAT(std::string(port.status().message()),
             Catch::Contains("enginetest.TestService/Unary, enginetest.TestService/Stream"));
}

TEST_CASE("a method registered twice fails Start, naming it", "[engine][registration]") {
  engine::Engine engine(OneQueue());
  engine.AddService<TestService>()
      .Unary(&Service::RequestUnary, Echo)
      .ServerStream(&Service::RequestStream, NoStream);
  // A second AddService of the same service is the same registration.
  engine.AddService<TestService>().Unary(&Service::RequestUnary, Echo);
  absl::StatusOr<int> port = engine.Start("127.0.0.1:0");
  REQUIRE_FALSE(port.ok());
  CHECK(port.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(port.status().message()),
             Catch::Contains("enginetest.TestService/Unary is registered twice"));
}

TEST_CASE("handler types are checked against the method's descriptor", "[engine][registration]") {
  absl::StatusOr<const google::protobuf::ServiceDescriptor*> found =
      engine::internal::FindGeneratedService("enginetest.TestService");
  REQUIRE(found.ok());
  const google::protobuf::MethodDescriptor& unary = *(*found)->FindMethodByName("Unary");
  const google::protobuf::MethodDescriptor& stream = *(*found)->FindMethodByName("Stream");
  const google::protobuf::Descriptor& message = *Message::descriptor();
  const google::protobuf::Descriptor& empty = *google::protobuf::Empty::descriptor();
  using engine::internal::CheckMethodSignature;
  using engine::internal::RpcKind;

  CHECK(CheckMethodSignature(unary, message, message, RpcKind::kUnary).ok());
  CHECK(CheckMethodSignature(stream, message, message, RpcKind::kServerStream).ok());

  absl::Status request = CheckMethodSignature(unary, empty, message, RpcKind::kUnary);
  CHECK(request.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(request.message()) ==
        "enginetest.TestService/Unary takes enginetest.Message but its handler takes "
        "google.protobuf.Empty");

  absl::Status response = CheckMethodSignature(unary, message, empty, RpcKind::kUnary);
  CHECK(response.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(response.message()),
             Catch::Contains("returns enginetest.Message but its handler answers "
                             "google.protobuf.Empty"));

  absl::Status kind = CheckMethodSignature(stream, message, message, RpcKind::kUnary);
  CHECK(kind.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(kind.message()),
             Catch::Contains("enginetest.TestService/Stream is server-streaming but was "
                             "registered as unary"));
}

TEST_CASE("a service missing from the descriptor pool is reported by name",
          "[engine][registration]") {
  absl::StatusOr<const google::protobuf::ServiceDescriptor*> found =
      engine::internal::FindGeneratedService("enginetest.NoSuchService");
  REQUIRE_FALSE(found.ok());
  CHECK(found.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(found.status().message()), Catch::Contains("enginetest.NoSuchService"));
}

TEST_CASE("names come from the descriptor: metrics and stats use package.Service/Method",
          "[engine][registration]") {
  RecordingObserver observer;
  engine::EngineOptions options = OneQueue();
  options.observer = &observer;
  engine::Engine engine(options);
  engine.AddService<TestService>()
      .Unary(&Service::RequestUnary, Echo)
      .ServerStream(&Service::RequestStream, NoStream);
  absl::StatusOr<int> port = engine.Start("127.0.0.1:0");
  REQUIRE(port.ok());
  CHECK(observer.names() == std::set<std::string>{"enginetest.TestService/Unary unary",
                                                  "enginetest.TestService/Stream stream"});

  auto stub = TestService::NewStub(testing_util::LoopbackChannel(*port));
  grpc::ClientContext context;
  Message request;
  request.set_text("hi");
  Message response;
  REQUIRE(stub->Unary(&context, request, &response).ok());
  CHECK(response.text() == "hi");
  CHECK(engine.MethodStats("enginetest.TestService/Unary").calls_started == 1);
  CHECK(engine.MethodStats("enginetest.TestService/Stream").calls_started == 0);
  CHECK(engine.MethodStats("Unary").slots == 0);  // no bare names
  engine.Shutdown();
}

TEST_CASE("a method left Unimplemented answers UNIMPLEMENTED, not a hang or a sync pool",
          "[engine][registration]") {
  engine::Engine engine(OneQueue());
  engine.AddService<TestService>()
      .Unimplemented(&Service::RequestUnary)
      .Unimplemented(&Service::RequestStream);
  absl::StatusOr<int> port = engine.Start("127.0.0.1:0");
  REQUIRE(port.ok());
  auto stub = TestService::NewStub(testing_util::LoopbackChannel(*port));

  grpc::ClientContext unary_context;
  unary_context.set_deadline(testing_util::DeadlineIn(absl::Seconds(10)));
  Message response;
  grpc::Status unary = stub->Unary(&unary_context, Message(), &response);
  CHECK(unary.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(unary.error_message() == "enginetest.TestService/Unary is not implemented by this server");

  grpc::ClientContext stream_context;
  stream_context.set_deadline(testing_util::DeadlineIn(absl::Seconds(10)));
  auto reader = stub->Stream(&stream_context, Message());
  Message message;
  CHECK_FALSE(reader->Read(&message));
  grpc::Status stream = reader->Finish();
  CHECK(stream.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK_THAT(stream.error_message(), Catch::Contains("enginetest.TestService/Stream"));
  // Every call went through the engine's own slots.
  CHECK(engine.Stats().calls_started == 2);
  engine.Shutdown();
}

TEST_CASE("methods with the same types are told apart by the generated RequestX",
          "[engine][registration]") {
  using Twins = registrationtest::Twins;
  using registrationtest::Text;
  auto answer = [](std::string who) {
    return [who](engine::UnaryResponder<Text> rpc, const Text&) {
      rpc.response().set_text(who);
      rpc.Finish();
    };
  };
  engine::Engine engine(OneQueue());
  // Registered out of declaration order on purpose.
  engine.AddService<Twins>()
      .Unary(&Twins::AsyncService::RequestThird, answer("third"))
      .Unary(&Twins::AsyncService::RequestFirst, answer("first"))
      .Unary(&Twins::AsyncService::RequestSecond, answer("second"));
  absl::StatusOr<int> port = engine.Start("127.0.0.1:0");
  REQUIRE(port.ok());
  auto stub = Twins::NewStub(testing_util::LoopbackChannel(*port));
  auto call = [&](auto method) {
    grpc::ClientContext context;
    Text response;
    grpc::Status status = ((*stub).*method)(&context, Text(), &response);
    REQUIRE(status.ok());
    return response.text();
  };
  CHECK(call(&Twins::Stub::First) == "first");
  CHECK(call(&Twins::Stub::Second) == "second");
  CHECK(call(&Twins::Stub::Third) == "third");
  CHECK(engine.MethodStats("registrationtest.Twins/Second").calls_started == 1);
  engine.Shutdown();
}

}  // namespace
