// The completion-queue engine shared by every server in this project.
//
// An Engine owns a grpc::Server, N completion queues with exactly one thread
// each, and for every (queue, method) pair a fixed set of reusable call slots
// whose requests are posted ahead of time. Services plug in handlers that see
// `(responder, request)` and never a tag; see unary_responder.h and
// server_stream.h.
//
// Lifecycle: construct, configure builder(), Add*Method(), Start(), ...,
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

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/internal/call_slot.h"
#include "engine/internal/server_stream_call.h"
#include "engine/internal/unary_call.h"
#include "engine/rpc_observer.h"
#include "engine/server_stream.h"
#include "engine/unary_responder.h"

namespace engine {

struct EngineOptions {
  // Completion queues, one thread each. 0 means one per CPU this process may
  // run on (its affinity mask, so `taskset -c 0` yields one queue).
  int completion_queues = 0;
  // Requests posted ahead per queue and per method (methods may override it).
  // Calls arriving while all are taken wait inside gRPC until a slot is
  // recycled. Deeper is not better with Debian's gRPC: it is built without
  // NDEBUG, and every completion linearly scans the queue's outstanding tags,
  // each posted request among them (see docs/performance.md).
  int requests_per_method = 64;
  // How long in-flight calls may run on after shutdown begins.
  absl::Duration drain_deadline = absl::Seconds(5);
  // Told of every call's start and end (metrics); null for none. Must
  // outlive the engine.
  engine::RpcObserver* observer = nullptr;
};

// Returns an error naming the bad field, or OK.
absl::Status ValidateEngineOptions(const EngineOptions& options);

// CPUs in this process's affinity mask (at least 1).
int UsableCpuCount();

// Per-method settings.
struct MethodOptions {
  // Requests posted ahead per queue; 0 = EngineOptions::requests_per_method.
  // Rarely called methods should post few: each posted request is an
  // outstanding tag, which Debian's gRPC scans on every completion. For a
  // streaming method this is also the most streams open at once per queue;
  // further calls wait inside gRPC until a stream ends or their deadline.
  int requests_posted = 0;
  // Unary only: ask gRPC for a call-done notification (AsyncNotifyWhenDone)
  // so UnaryResponder::IsCancelled() works while a handler holds the call.
  // A handler that always answers before returning does not need it and
  // saves one completion per call. Streams always watch.
  bool watch_cancellation = true;
};

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

  // Serves unary `method_name` of `service` (a generated
  // `WithRawMethod_X<...>` service) with `handler`. `request_method` is the
  // generated `&Service::RequestX`. Before Start() only.
  template <class Request, class Response, class Service, class RequestMethod>
  void AddUnaryMethod(Service* service, RequestMethod request_method, std::string method_name,
                      UnaryHandler<Request, Response> handler, MethodOptions method_options = {}) {
    RegisterService(service);
    auto shared_handler =
        std::make_shared<const UnaryHandler<Request, Response>>(std::move(handler));
    internal::RawUnaryRequester requester =
        [service, request_method](grpc::ServerContext* context, grpc::ByteBuffer* request,
                                  grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>* writer,
                                  grpc::ServerCompletionQueue* cq, Tag* tag) {
          (service->*request_method)(context, request, writer, cq, cq, tag->ToCompletionQueueTag());
        };
    AddMethod(
        std::move(method_name), /*streaming=*/false,
        [requester, shared_handler,
         watch = method_options.watch_cancellation](internal::CallEnvironment env) {
          return std::make_unique<internal::UnaryCall<Request, Response>>(
              std::move(env), requester, shared_handler.get(), watch);
        },
        shared_handler, method_options.requests_posted);
  }

  // Serves server-streaming `method_name`; see AddUnaryMethod.
  template <class Request, class Response, class Service, class RequestMethod>
  void AddServerStreamMethod(Service* service, RequestMethod request_method,
                             std::string method_name,
                             ServerStreamHandler<Request, Response> handler,
                             MethodOptions method_options = {}) {
    RegisterService(service);
    auto shared_handler =
        std::make_shared<const ServerStreamHandler<Request, Response>>(std::move(handler));
    internal::RawServerStreamRequester requester =
        [service, request_method](grpc::ServerContext* context, grpc::ByteBuffer* request,
                                  grpc::ServerAsyncWriter<grpc::ByteBuffer>* writer,
                                  grpc::ServerCompletionQueue* cq, Tag* tag) {
          (service->*request_method)(context, request, writer, cq, cq, tag->ToCompletionQueueTag());
        };
    AddMethod(
        std::move(method_name), /*streaming=*/true,
        [requester, shared_handler](internal::CallEnvironment env) {
          return std::make_unique<internal::ServerStreamCall<Request, Response>>(
              std::move(env), requester, shared_handler.get());
        },
        shared_handler, method_options.requests_posted);
  }

  // Binds `listen_address` ("host:port"; port 0 picks a free port), starts
  // the server, posts every request and starts the queue threads. Returns the
  // bound port, or an error (e.g. the address cannot be bound). Runs once:
  // after a failure, build a new Engine.
  absl::StatusOr<int> Start(
      const std::string& listen_address,
      std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials());

  // The ordered shutdown described at the top of this file. Blocks until the
  // queues are drained. Idempotent. Must not run on a queue thread (it would
  // wait for itself), so it aborts if it does.
  void Shutdown();

  EngineStats Stats() const;
  // Counters of one method; zeros for an unknown name.
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
  };

  void RegisterService(grpc::Service* service);
  void AddMethod(std::string name, bool streaming, SlotFactory make_slot,
                 std::shared_ptr<const void> handler, int requests_posted);
  void RunQueue(internal::QueueContext* queue);
  static void Accumulate(const internal::CallCounters& counters, EngineStats& stats);
  EngineStats StatsOf(const std::function<bool(const Method&)>& include) const;

  EngineOptions options_;
  grpc::ServerBuilder builder_;
  absl::flat_hash_set<grpc::Service*> services_;
  std::vector<Method> methods_;
  std::vector<std::unique_ptr<internal::QueueContext>> queues_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::unique_ptr<internal::CallSlot>> slots_;
  std::vector<internal::CallSlot*> stream_slots_;
  std::vector<std::unique_ptr<QueueBarrier>> barriers_;  // one per queue
  std::vector<std::thread> threads_;
  std::atomic<bool> accepting_calls_{false};

  absl::Mutex lifecycle_mu_;
  bool start_attempted_ ABSL_GUARDED_BY(lifecycle_mu_) = false;  // Start() runs once
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  std::vector<std::function<void()>> before_queues_close_ ABSL_GUARDED_BY(lifecycle_mu_);
  bool shut_down_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
};

}  // namespace engine

#endif  // ENGINE_ENGINE_H_
