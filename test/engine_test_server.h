// The engine alone, serving the test-only enginetest.TestService
// (test/proto/engine_test.proto) with the handlers a test chooses, on an
// ephemeral loopback port, with a stub to call it.
#ifndef TEST_ENGINE_TEST_SERVER_H_
#define TEST_ENGINE_TEST_SERVER_H_

#include <memory>

#include "engine/engine.h"
#include "engine_test.grpc.pb.h"

namespace testing_util {

class EngineTestServer {
 public:
  using Message = enginetest::Message;

  // A stream handler that refuses with UNIMPLEMENTED: for tests of unary
  // calls only.
  static absl::StatusOr<std::unique_ptr<engine::StreamSource<Message>>> NoStream(
      engine::StreamWaker, const Message&);

  // Serves enginetest.TestService/Unary with `unary` and .../Stream with
  // `stream` (REQUIREs that it starts).
  EngineTestServer(engine::EngineOptions options, engine::UnaryHandler<Message, Message> unary,
                   engine::ServerStreamHandler<Message, Message> stream = NoStream,
                   engine::MethodOptions unary_options = {});

  engine::Engine& engine() { return engine_; }
  enginetest::TestService::Stub& stub() { return *stub_; }
  int port() const { return port_; }

 private:
  engine::Engine engine_;
  int port_ = 0;
  std::unique_ptr<enginetest::TestService::Stub> stub_;
};

}  // namespace testing_util

#endif  // TEST_ENGINE_TEST_SERVER_H_
