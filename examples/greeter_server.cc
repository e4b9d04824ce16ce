// The Greeter example server on the cqengine engine. Serves helloworld.Greeter
// on --listen, prints "listening on HOST:PORT" once it serves (port 0 picks a
// free port), and on SIGTERM or SIGINT shuts down in order and exits 0.
//
//   greeter_server --listen=127.0.0.1:50051
#include <csignal>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "helloworld.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "host:port to serve on; port 0 picks one");

namespace {

using helloworld::HelloReply;
using helloworld::HelloRequest;

// SayHelloStream's replies. The engine asks for the next one whenever the
// stream can take it, so a slow reader never makes messages pile up.
class Greetings final : public engine::StreamSource<HelloReply> {
 public:
  explicit Greetings(const HelloRequest& request) : request_(request) {}
  engine::StreamStep Next(HelloReply& reply) override {
    if (sent_ == request_.count()) return engine::StreamStep::kFinish;
    ++sent_;
    reply.set_message(absl::StrCat("Hello ", sent_, "/", request_.count(), ", ", request_.name()));
    return engine::StreamStep::kSend;
  }

 private:
  const HelloRequest request_;
  int sent_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Blocked before the engine starts its threads (they inherit the mask), so
  // only sigwait below sees the signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  using helloworld::Greeter;
  engine::Engine engine(engine::EngineOptions{});
  engine.AddService<Greeter>()
      .Unary(&Greeter::AsyncService::RequestSayHello,
             [](engine::UnaryResponder<HelloReply> responder, const HelloRequest& request) {
               if (request.name().empty()) {
                 return responder.Finish(absl::InvalidArgumentError("name must not be empty"));
               }
               responder.response().set_message(absl::StrCat("Hello, ", request.name()));
               responder.Finish();
             })
      .ServerStream(
          &Greeter::AsyncService::RequestSayHelloStream,
          [](engine::StreamWaker, const HelloRequest& request)
              -> absl::StatusOr<std::unique_ptr<engine::StreamSource<HelloReply>>> {
            if (request.name().empty() || request.count() < 1 || request.count() > 1000) {
              return absl::InvalidArgumentError("name must not be empty and count must be 1..1000");
            }
            return std::make_unique<Greetings>(request);
          });

  const std::string listen = absl::GetFlag(FLAGS_listen);
  absl::StatusOr<int> port = engine.Start(listen);
  if (!port.ok()) {
    std::cerr << "greeter_server: " << port.status() << "\n";
    return 1;
  }
  std::cout << "listening on " << listen.substr(0, listen.rfind(':')) << ":" << *port << std::endl;

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::cout << "signal " << signal << ": shutting down" << std::endl;
  engine.Shutdown();
  return 0;
}
