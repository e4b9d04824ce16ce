// The completion-queue engine shared by every server in this project.
//
// An Engine owns a grpc::Server, N completion queues with exactly one thread
// each, and for every (queue, method) pair a fixed set of reusable call slots
// whose requests are posted ahead of time. Services plug in handlers that see
// `(responder, request)` and never a tag; see unary_responder.h and
// server_stream.h.
//
// Lifecycle: construct, configure builder(), AddService<S>() and register
// every method of S (service_registration.h), Start(), ...,
// Shutdown() (from a thread that is not a queue thread), destroy.
//
// Shutdown order, each step finished before the next:
//   1. stop re-posting requests; ask open streams to flush and finish;
//   2. grpc::Server::Shutdown(now + drain_deadline): in-flight calls may
//      complete until the deadline, then gRPC cancels the rest;
//   3. wait (up to drain_deadline again) for handlers still holding a
//      responder to finish, then run the RunBeforeQueuesClose() hooks;
//   4. pass a barrier on each queue, so events queued before the server shut
//      down are handled while the queue is open;
//   5. close each queue and drain it until Next() returns false, which
//      returns every outstanding tag to its slot.
// Slots, server and queues are freed only by the destructor. Every responder
// and StreamWaker must be finished or gone before the Engine is destroyed;
// a responder finished after Shutdown() (but before destruction) is dropped
// and counted as abandoned.
#ifndef ENGINE_ENGINE_H_
#define ENGINE_ENGINE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/call_authorizer.h"
#include "engine/internal/call_slot.h"
#include "engine/internal/method_traits.h"
#include "engine/internal/server_stream_call.h"
#include "engine/internal/service_entry.h"
#include "engine/internal/slot_pool.h"
#include "engine/internal/unary_call.h"
#include "engine/rpc_observer.h"
#include "engine/server_stream.h"
#include "engine/service_registration.h"
#include "engine/unary_responder.h"

namespace engine {

struct EngineOptions {
  // Completion queues, one thread each. 0 means one per CPU this process may
  // run on (its affinity mask, so `taskset -c 0` yields one queue).
  int completion_queues = 0;
  // Requests posted ahead per queue and per method (methods may override
  // it). This is not a limit on calls in flight: as soon as a posted request
  // is matched by a call, another is posted in its place, from a pool of
  // call slots that grows on demand up to max_call_slots.
  int requests_per_method = 64;
  // The most call slots (calls in flight, plus requests posted) of all
  // methods and queues together: the bound on the engine's call memory. A
  // slot holds its ServerContext, the request and response messages with
  // the capacity they grew to, and their wire buffers (see
  // docs/architecture.md). At the bound, finished slots are
  // re-posted instead of new ones made, and further calls wait inside gRPC.
  // Must be at least the slots posted at start.
  std::int64_t max_call_slots = 16384;
  // The most calls one connection (peer) may hold at once, across methods
  // and queues. Past it a call is answered RESOURCE_EXHAUSTED without
  // reaching its handler; past twice it, the call is reset at once, which
  // frees its slot even if the peer never reads. 0 = no limit. The default
  // is twice the HTTP/2 concurrent-streams limit (256): a slot is held a
  // little past the moment its client sees the answer and opens the next
  // stream, so a client at the stream limit must never be shed; only one
  // that ignores that limit (one that never ACKs SETTINGS) is.
  int max_calls_per_peer = 512;
  // How long in-flight calls may run on after shutdown begins.
  absl::Duration drain_deadline = absl::Seconds(5);
  // Coalesce the writes of each queue's thread (engine/write_coalescing.h):
  // the responses it finishes one after another leave in one write per
  // connection, sent as soon as the thread runs out of ready events. Has an
  // effect only on a gRPC built with the project's patch
  // (WriteCoalescingAvailable()); false: one write per response, as gRPC
  // does by itself.
  bool coalesce_writes = true;
  // Told of every call's start and end (metrics); null for none. Must
  // outlive the engine.
  engine::RpcObserver* observer = nullptr;
  // The authorization step on every call's path (call_authorizer.h); null:
  // every call is let through. Must outlive the engine.
  engine::CallAuthorizer* authorizer = nullptr;
};

// Returns an error naming the bad field, or OK.
absl::Status ValidateEngineOptions(const EngineOptions& options);

// CPUs in this process's affinity mask (at least 1).
int UsableCpuCount();

// Counter snapshot; see CallCounters for the meaning of each field.
struct EngineStats {
  std::int64_t slots = 0;
  std::int64_t requests_posted = 0;
  std::int64_t requests_failed = 0;
  std::int64_t calls_started = 0;
  std::int64_t bad_requests = 0;
  std::int64_t handlers_running = 0;
  std::int64_t finishes_ok = 0;
  std::int64_t finishes_failed = 0;
  std::int64_t writes_ok = 0;
  std::int64_t writes_failed = 0;
  std::int64_t wakes = 0;
  std::int64_t cancelled = 0;
  std::int64_t abandoned = 0;
  std::int64_t slots_retired = 0;
  std::int64_t shed = 0;    // answered RESOURCE_EXHAUSTED by admission
  std::int64_t reset = 0;   // cancelled by admission
  std::int64_t denied = 0;  // refused by EngineOptions::authorizer
};

class Engine {
 public:
  explicit Engine(EngineOptions options);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  // Shuts down first if Start() succeeded and Shutdown() was not called,
  // then frees slots (with their server contexts), the server and queues.
  ~Engine();

  // Before Start(): channel arguments, limits, extra (e.g. reflection) services.
  grpc::ServerBuilder& builder() { return builder_; }

  // Serves the generated service `Generated` (the class protoc generates,
  // e.g. helloworld::Greeter): returns the handle its methods are registered
  // through, one call per method (see service_registration.h). Every method
  // of an added service must get a handler before Start(). Adding the same
  // service again returns a handle to the same registration. Before Start()
  // only.
  template <class Generated>
  ServiceRegistration<Generated> AddService() {
    internal::ServiceEntry* entry = FindOrAddService(
        Generated::service_full_name(), [](int method_count) -> std::unique_ptr<grpc::Service> {
          return std::make_unique<internal::RawService<Generated>>(method_count);
        });
    return ServiceRegistration<Generated>(this, entry);
  }

  // Checks the registrations, binds `listen_address` ("host:port"; port 0
  // picks a free port), starts the server, posts every request and starts
  // the queue threads. Returns the bound port, or an error: INVALID_ARGUMENT
  // or FAILED_PRECONDITION naming the method for a registration mistake (a
  // method without a handler, registered twice, or whose types do not match
  // its descriptor), UNAVAILABLE if the address cannot be bound. Runs once:
  // after a failure, build a new Engine.
  absl::StatusOr<int> Start(
      const std::string& listen_address,
      std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials());

  // The ordered shutdown described at the top of this file. Blocks until the
  // queues are drained. Idempotent. Must not run on a queue thread (it would
  // wait for itself), so it aborts if it does.
  void Shutdown();

  EngineStats Stats() const;
  // Counters of one method, by "package.Service/Method"; zeros for an
  // unknown name.
  EngineStats MethodStats(const std::string& method_name) const;

  int completion_queue_count() const { return static_cast<int>(queues_.size()); }

  // The engine's completion queues, for a client whose RPCs should complete
  // on the queue threads: a handler that calls out then answers its own call
  // on the thread that got the reply, without a hop to another thread. Every
  // event on them must come through an engine::Tag. Valid from construction
  // (empty if the options are invalid) to destruction; served by the queue
  // threads from Start() until Shutdown() closes them. A client using them
  // must end all its operations before that: register its shutdown with
  // RunBeforeQueuesClose().
  std::vector<grpc::CompletionQueue*> completion_queues() const;

  // Runs `hook` inside Shutdown(), after in-flight calls and handlers have
  // finished (step 3) and before the queues close (steps 4-5), on the thread
  // calling Shutdown(), while the queue threads still run. Hooks run in the
  // order added. They do not run if Start() failed or was never called
  // (then no call was served, so no client on the queues was used). Before
  // Shutdown() only; a hook must not call Shutdown() or
  // RunBeforeQueuesClose() (Shutdown holds the engine's lifecycle lock).
  void RunBeforeQueuesClose(std::function<void()> hook);
  const EngineOptions& options() const { return options_; }

 private:
  class QueueBarrier;  // engine.cc
  using SlotFactory = std::function<std::unique_ptr<internal::CallSlot>(internal::CallEnvironment)>;
  struct Method {
    std::string name;
    bool streaming;
    int requests_posted;  // per queue
    SlotFactory make_slot;
    std::shared_ptr<const void> handler;  // keeps the handler alive for the slots
    std::vector<std::unique_ptr<internal::CallCounters>> counters;  // one per queue
    engine::MethodObserver* observer = nullptr;                     // set by Start
    std::atomic<int> in_flight{0};  // calls admitted to the handler, all queues
    internal::AdmissionLimits limits;
    std::vector<std::unique_ptr<internal::SlotPool>> pools;  // one per queue, made by Start
  };

  template <class Generated>
  friend class ServiceRegistration;

  internal::ServiceEntry* FindOrAddService(
      const std::string& full_name,
      const std::function<std::unique_ptr<grpc::Service>(int method_count)>& make_raw);
  // Adds method `index` of `service`, or records why it cannot be served (a
  // registration error that Start() returns).
  void AddMethod(internal::ServiceEntry* service, int index,
                 const google::protobuf::Descriptor& request,
                 const google::protobuf::Descriptor& response, internal::RpcKind kind,
                 SlotFactory make_slot, std::shared_ptr<const void> handler,
                 const MethodOptions& options);
  // The first registration mistake, or a method of an added service left
  // without a handler.
  absl::Status CheckRegistrations() const;
  // Start() failed before any call: shuts the queues down and drains them.
  void CloseUnusedQueues();
  void RunQueue(internal::QueueContext* queue);
  static void Accumulate(const internal::CallCounters& counters, EngineStats& stats);
  EngineStats StatsOf(const std::function<bool(const Method&)>& include) const;

  EngineOptions options_;
  grpc::ServerBuilder builder_;
  // Declared before server_: the raw services must outlive it.
  std::vector<std::unique_ptr<internal::ServiceEntry>> services_;
  absl::Status registration_error_;  // the first registration mistake
  std::vector<std::unique_ptr<Method>> methods_;
  std::unique_ptr<internal::SlotBudget> slot_budget_;
  internal::PeerCalls peer_calls_;
  std::vector<std::unique_ptr<internal::QueueContext>> queues_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::unique_ptr<QueueBarrier>> barriers_;  // one per queue
  std::vector<std::thread> threads_;
  std::atomic<bool> accepting_calls_{false};

  absl::Mutex lifecycle_mu_;
  bool start_attempted_ ABSL_GUARDED_BY(lifecycle_mu_) = false;  // Start() runs once
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  std::vector<std::function<void()>> before_queues_close_ ABSL_GUARDED_BY(lifecycle_mu_);
  bool shut_down_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
};

// ServiceRegistration's members, defined here because they need Engine.
template <class Generated>
template <class RequestMethod>
constexpr void ServiceRegistration<Generated>::CheckRequestMethod() {
  using Traits = internal::MethodTraits<RequestMethod>;
  static_assert(Traits::kSupported,
                "pass the generated &Service::AsyncService::RequestX of a unary or "
                "server-streaming method");
  if constexpr (Traits::kSupported) {
    static_assert(std::is_base_of_v<typename Generated::Service, typename Traits::WrapperClass>,
                  "this RequestX belongs to another service than the one it is registered on");
  }
}

template <class Generated>
template <class RequestMethod>
int ServiceRegistration<Generated>::IndexOf() const {
  return internal::MethodIndexOf<Generated, RequestMethod>(entry_->method_count());
}

template <class Generated>
template <class RequestMethod, class Handler>
ServiceRegistration<Generated>& ServiceRegistration<Generated>::Unary(RequestMethod request_method,
                                                                      Handler&& handler,
                                                                      MethodOptions options) {
  CheckRequestMethod<RequestMethod>();
  using Traits = internal::MethodTraits<RequestMethod>;
  static_assert(Traits::kKind == internal::RpcKind::kUnary,
                "this is a server-streaming method: register it with ServerStream()");
  using Request = typename Traits::Request;
  using Response = typename Traits::Response;
  static_assert(std::is_invocable_v<Handler&, UnaryResponder<Response>, const Request&>,
                "a unary handler must be callable as (engine::UnaryResponder<Response>, "
                "const Request&) with the method's own Request and Response");
  const int index = IndexOf<RequestMethod>();
  auto* raw = static_cast<internal::RawService<Generated>*>(entry_->raw.get());
  auto shared_handler =
      std::make_shared<const UnaryHandler<Request, Response>>(std::forward<Handler>(handler));
  internal::RawUnaryRequester requester =
      [raw, index](grpc::ServerContext* context, grpc::ByteBuffer* request,
                   grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>* writer,
                   grpc::ServerCompletionQueue* cq,
                   Tag* tag) { raw->RequestUnary(index, context, request, writer, cq, tag); };
  engine_->AddMethod(
      entry_, index, *Request::descriptor(), *Response::descriptor(), internal::RpcKind::kUnary,
      [requester, shared_handler,
       watch = options.watch_cancellation](internal::CallEnvironment env) {
        return std::make_unique<internal::UnaryCall<Request, Response>>(
            std::move(env), requester, shared_handler.get(), watch);
      },
      shared_handler, options);
  return *this;
}

template <class Generated>
template <class RequestMethod, class Handler>
ServiceRegistration<Generated>& ServiceRegistration<Generated>::ServerStream(
    RequestMethod request_method, Handler&& handler, MethodOptions options) {
  CheckRequestMethod<RequestMethod>();
  using Traits = internal::MethodTraits<RequestMethod>;
  static_assert(Traits::kKind == internal::RpcKind::kServerStream,
                "this is a unary method: register it with Unary()");
  using Request = typename Traits::Request;
  using Response = typename Traits::Response;
  static_assert(std::is_invocable_r_v<absl::StatusOr<std::unique_ptr<StreamSource<Response>>>,
                                      Handler&, StreamWaker, const Request&>,
                "a server-streaming handler must be callable as (engine::StreamWaker, const "
                "Request&) and return absl::StatusOr<std::unique_ptr<StreamSource<Response>>>");
  const int index = IndexOf<RequestMethod>();
  auto* raw = static_cast<internal::RawService<Generated>*>(entry_->raw.get());
  auto shared_handler = std::make_shared<const ServerStreamHandler<Request, Response>>(
      std::forward<Handler>(handler));
  internal::RawServerStreamRequester requester =
      [raw, index](grpc::ServerContext* context, grpc::ByteBuffer* request,
                   grpc::ServerAsyncWriter<grpc::ByteBuffer>* writer,
                   grpc::ServerCompletionQueue* cq, Tag* tag) {
        raw->RequestServerStream(index, context, request, writer, cq, tag);
      };
  engine_->AddMethod(
      entry_, index, *Request::descriptor(), *Response::descriptor(),
      internal::RpcKind::kServerStream,
      [requester, shared_handler](internal::CallEnvironment env) {
        return std::make_unique<internal::ServerStreamCall<Request, Response>>(
            std::move(env), requester, shared_handler.get());
      },
      shared_handler, options);
  return *this;
}

template <class Generated>
template <class RequestMethod>
ServiceRegistration<Generated>& ServiceRegistration<Generated>::Unimplemented(
    RequestMethod request_method) {
  CheckRequestMethod<RequestMethod>();
  using Traits = internal::MethodTraits<RequestMethod>;
  using Request = typename Traits::Request;
  using Response = typename Traits::Response;
  // Few posted requests: nobody is expected to call it.
  const MethodOptions rarely_called{.requests_posted = 1, .watch_cancellation = false};
  const int index = IndexOf<RequestMethod>();
  const std::string name = entry_->descriptor != nullptr && index >= 0
                               ? internal::FullMethodName(*entry_->descriptor->method(index))
                               : full_name();
  if constexpr (Traits::kKind == internal::RpcKind::kUnary) {
    return Unary(
        request_method,
        [name](UnaryResponder<Response> rpc, const Request&) {
          rpc.Finish(absl::UnimplementedError(name + " is not implemented by this server"));
        },
        rarely_called);
  } else {
    return ServerStream(
        request_method,
        [name](StreamWaker,
               const Request&) -> absl::StatusOr<std::unique_ptr<StreamSource<Response>>> {
          return absl::UnimplementedError(name + " is not implemented by this server");
        },
        rarely_called);
  }
}

}  // namespace engine

#endif  // ENGINE_ENGINE_H_
