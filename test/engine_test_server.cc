#include "test/engine_test_server.h"

#include <catch2/catch.hpp>
#include <utility>

#include "test/loopback.h"

namespace testing_util {

absl::StatusOr<std::unique_ptr<engine::StreamSource<EngineTestServer::Message>>>
EngineTestServer::NoStream(engine::StreamWaker, const Message&) {
  return absl::UnimplementedError("no stream in this test");
}

EngineTestServer::EngineTestServer(engine::EngineOptions options,
                                   engine::UnaryHandler<Message, Message> unary,
                                   engine::ServerStreamHandler<Message, Message> stream,
                                   engine::MethodOptions unary_options)
    : engine_(options) {
  using Service = enginetest::TestService::AsyncService;
  engine_.AddService<enginetest::TestService>()
      .Unary(&Service::RequestUnary, std::move(unary), unary_options)
      .ServerStream(&Service::RequestStream, std::move(stream));
  absl::StatusOr<int> port = engine_.Start("127.0.0.1:0");
  REQUIRE(port.ok());
  port_ = *port;
  stub_ = enginetest::TestService::NewStub(LoopbackChannel(port_));
}

}  // namespace testing_util
