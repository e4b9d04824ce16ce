// How a service's methods are handed to the engine: one call per method,
// with every type deduced from the generated `&Service::AsyncService::RequestX`
// pointer and every name taken from the generated descriptor.
//
//   engine::Engine engine(options);
//   engine.AddService<helloworld::Greeter>()
//       .Unary(&helloworld::Greeter::AsyncService::RequestSayHello,
//              [](engine::UnaryResponder<helloworld::HelloReply> rpc,
//                 const helloworld::HelloRequest& request) {
//                rpc.response().set_message("Hello " + request.name());
//                rpc.Finish();
//              });
//   absl::StatusOr<int> port = engine.Start("0.0.0.0:50051");
//
// What cannot go wrong silently:
// - Every method of the service is served raw by the engine: none can fall
//   back to gRPC's synchronous thread pool (no WithRawMethod_X wrappers to
//   forget).
// - Engine::Start fails, naming the methods, if a method of an added service
//   has no handler (its calls would hang until their deadline). A method the
//   service does not implement is registered with Unimplemented().
// - A handler whose parameters do not match the method does not compile; the
//   deduced types are also checked against the method's descriptor, and a
//   method registered twice, or of the wrong kind, fails Start.
// - Method names ("package.Service/Method", used by the metrics and
//   Engine::MethodStats) come from the descriptor, never from a string.
#ifndef ENGINE_SERVICE_REGISTRATION_H_
#define ENGINE_SERVICE_REGISTRATION_H_

#include <string>
#include <type_traits>
#include <utility>

#include "engine/internal/method_traits.h"
#include "engine/internal/service_entry.h"
#include "engine/server_stream.h"
#include "engine/unary_responder.h"

namespace engine {

class Engine;

// Per-method settings.
struct MethodOptions {
  // Requests posted ahead per queue; 0 = EngineOptions::requests_per_method.
  // Rarely called methods should post few. Not a limit on calls in flight:
  // each matched request is replaced at once (see max_in_flight).
  int requests_posted = 0;
  // The most calls of this method in their handlers at once (streams: open
  // at once), across queues; past it a call is answered RESOURCE_EXHAUSTED
  // at once. 0 = no limit of its own (EngineOptions::max_call_slots bounds
  // every method together).
  int max_in_flight = 0;
  // Unary only: ask gRPC for a call-done notification (AsyncNotifyWhenDone)
  // so UnaryResponder::IsCancelled() works while a handler holds the call.
  // A handler that always answers before returning does not need it and
  // saves one completion per call. Streams always watch.
  bool watch_cancellation = true;
};

// A handle to one generated service `Generated` (the outer class protoc
// generates, e.g. helloworld::Greeter) added to an Engine. Cheap to copy; valid
// while its Engine is. All calls before Engine::Start only.
template <class Generated>
class ServiceRegistration {
 public:
  // Serves unary method `request_method` (`&Generated::AsyncService::RequestX`)
  // with `handler`, callable as
  //   void(engine::UnaryResponder<Response>, const Request&)
  // (see unary_responder.h for its contract).
  template <class RequestMethod, class Handler>
  ServiceRegistration& Unary(RequestMethod request_method, Handler&& handler,
                             MethodOptions options = {});

  // Serves server-streaming method `request_method` with `handler`, callable as
  //   absl::StatusOr<std::unique_ptr<engine::StreamSource<Response>>>(
  //       engine::StreamWaker, const Request&)
  // (see server_stream.h).
  template <class RequestMethod, class Handler>
  ServiceRegistration& ServerStream(RequestMethod request_method, Handler&& handler,
                                    MethodOptions options = {});

  // Answers every call of `request_method` with UNIMPLEMENTED: the explicit
  // way to leave a method of the service out.
  template <class RequestMethod>
  ServiceRegistration& Unimplemented(RequestMethod request_method);

  // "package.Service".
  const std::string& full_name() const { return entry_->full_name; }

 private:
  friend class Engine;
  ServiceRegistration(Engine* engine, internal::ServiceEntry* entry)
      : engine_(engine), entry_(entry) {}

  template <class RequestMethod>
  static constexpr void CheckRequestMethod();
  template <class RequestMethod>
  int IndexOf() const;

  Engine* engine_;
  internal::ServiceEntry* entry_;
};

}  // namespace engine

#endif  // ENGINE_SERVICE_REGISTRATION_H_
