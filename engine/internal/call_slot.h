// Internal building blocks shared by the call state machines. Not part of the
// engine's public surface: services include engine.h, unary_responder.h and
// server_stream.h only.
#ifndef ENGINE_INTERNAL_CALL_SLOT_H_
#define ENGINE_INTERNAL_CALL_SLOT_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_stream.h>
#include <grpcpp/support/async_unary_call.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/internal/request_parser.h"
#include "engine/internal/slot_pool.h"
#include "engine/rpc_observer.h"
#include "engine/tag.h"

namespace engine::internal {

// Per-(method, queue) counters. Each block is written almost only by its own
// queue's thread, so the blocks are cache-line aligned to avoid false sharing.
struct alignas(64) CallCounters {
  std::atomic<std::int64_t> requests_posted{0};  // gauge: requests waiting for a call
  std::atomic<std::int64_t> requests_failed{0};  // request completed ok=false (shutdown)
  std::atomic<std::int64_t> calls_started{0};
  std::atomic<std::int64_t> bad_requests{0};      // payload did not parse
  std::atomic<std::int64_t> handlers_running{0};  // gauge: started, handler not yet finished
  std::atomic<std::int64_t> finishes_ok{0};       // Finish completed ok=true
  std::atomic<std::int64_t> finishes_failed{0};   // Finish completed ok=false
  std::atomic<std::int64_t> writes_ok{0};
  std::atomic<std::int64_t> writes_failed{0};  // stream Write completed ok=false
  std::atomic<std::int64_t> wakes{0};
  std::atomic<std::int64_t> cancelled{0};  // done tag with IsCancelled()
  std::atomic<std::int64_t> abandoned{0};  // handler finished after queues closed
  std::atomic<std::int64_t> slots_retired{0};
  std::atomic<std::int64_t> shed{0};    // answered RESOURCE_EXHAUSTED by admission
  std::atomic<std::int64_t> reset{0};   // cancelled by admission (peer far over its limit)
  std::atomic<std::int64_t> denied{0};  // refused by the method's authorizer

  void Add(std::atomic<std::int64_t>& counter, std::int64_t delta = 1) {
    counter.fetch_add(delta, std::memory_order_relaxed);
  }
};

// One completion queue plus the gate that keeps operations off it once it
// has been shut down: starting any operation on a shut-down queue aborts the
// process inside gRPC, and handlers may finish calls from foreign threads at
// any moment, so every operation start goes through StartIfOpen.
class QueueContext {
 public:
  explicit QueueContext(std::unique_ptr<grpc::ServerCompletionQueue> cq) : cq_(std::move(cq)) {}

  grpc::ServerCompletionQueue* cq() const { return cq_.get(); }

  // Runs `start` (which starts exactly one gRPC operation on this queue)
  // unless the queue is closed. Returns whether it ran.
  template <class StartFn>
  bool StartIfOpen(StartFn&& start) {
    absl::ReaderMutexLock lock(&gate_);
    if (closed_) return false;
    std::forward<StartFn>(start)();
    return true;
  }

  // After this returns no operation can be started on the queue, and the
  // queue itself has been told to shut down.
  void Close() {
    absl::MutexLock lock(&gate_);
    closed_ = true;
    cq_->Shutdown();
  }

 private:
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  absl::Mutex gate_;
  bool closed_ ABSL_GUARDED_BY(gate_) = false;
};

// What every call needs from its engine.
struct CallEnvironment {
  QueueContext* queue;
  CallCounters* counters;
  // False once shutdown has begun: finished calls are retired, not re-posted.
  const std::atomic<bool>* accepting_calls;
  // The method's metrics, or null.
  engine::MethodObserver* observer = nullptr;
  // The pool this slot belongs to, which keeps the method's requests posted;
  // null: the slot re-posts itself (no pool).
  SlotPool* pool = nullptr;
  // Who may have a call; null admits every call.
  const AdmissionLimits* limits = nullptr;
};

// Base of every call state machine: a reusable slot that serves one RPC at a
// time, forever, until shutdown retires it.
class CallSlot : public CompletionHandler {
 public:
  explicit CallSlot(CallEnvironment env) : env_(std::move(env)) {}
  CallSlot(const CallSlot&) = delete;
  CallSlot& operator=(const CallSlot&) = delete;
  virtual ~CallSlot() = default;

  // Posts the slot's request (again): called by its pool, for a new slot or
  // an idle one, without the slot's lock held. Retires the slot instead once
  // the server no longer accepts calls.
  void Repost() {
    absl::MutexLock lock(&mu_);
    if (!accepting_calls()) {
      RetireLocked();
      if (env_.pool != nullptr) env_.pool->Unposted();
      return;
    }
    PostRequestLocked();
  }

  // Retires a slot parked idle in its pool, once its queue is drained.
  void RetireIdle() {
    absl::MutexLock lock(&mu_);
    if (ParkedLocked()) RetireLocked();
  }

  // Asks a streaming call to flush and finish because the server is shutting
  // down. Unary calls finish by themselves.
  virtual void BeginShutdown() {}

 protected:
  // The state machine's side of the slot, each called with mu_ held:
  // post the request for the next call (or retire if the queue is closed);
  // retire for good; and whether the slot is finished and parked idle.
  virtual void PostRequestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  virtual void RetireLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  virtual bool ParkedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;

  bool accepting_calls() const { return env_.accepting_calls->load(std::memory_order_acquire); }

  // Decides whether the call just matched may run its handler: OK, or the
  // status to finish it with: RESOURCE_EXHAUSTED from the limits, or the
  // method's authorizer's refusal (checked last, so a flood is shed before
  // any credential is looked at). A connection over its limit,
  // or a method over its max_in_flight, is refused; a connection past twice
  // its limit also has the call cancelled at once, which frees the slot
  // without waiting for that peer to read an answer. The call counts against
  // its connection and method until ReleaseAdmission(), refused or not.
  absl::Status Admit(grpc::ServerContext& context) {
    principal_.clear();
    const AdmissionLimits* limits = env_.limits;
    if (limits == nullptr) return absl::OkStatus();
    if (limits->peers != nullptr && limits->max_calls_per_peer > 0) {
      peer_ = context.peer();
      peer_held_ = true;
      const int held = limits->peers->Acquire(peer_);
      if (held > 2 * limits->max_calls_per_peer) {
        env_.counters->Add(env_.counters->reset);
        context.TryCancel();
        return absl::ResourceExhaustedError("too many calls on this connection");
      }
      if (held > limits->max_calls_per_peer) {
        env_.counters->Add(env_.counters->shed);
        return absl::ResourceExhaustedError(absl::StrCat(
            "this connection already has ", held - 1,
            " calls in flight; the limit per connection is ", limits->max_calls_per_peer));
      }
    }
    if (limits->method_in_flight != nullptr && limits->max_in_flight > 0) {
      const int running = limits->method_in_flight->fetch_add(1, std::memory_order_relaxed) + 1;
      in_flight_held_ = true;
      if (running > limits->max_in_flight) {
        env_.counters->Add(env_.counters->shed);
        return absl::ResourceExhaustedError(
            absl::StrCat("the server is serving its limit of ", limits->max_in_flight,
                         " calls of this method at once; retry later"));
      }
    }
    if (limits->authorizer != nullptr) {
      absl::Status allowed = limits->authorizer->Authorize(context, &principal_);
      if (!allowed.ok()) {
        env_.counters->Add(env_.counters->denied);
        principal_.clear();
        return allowed;
      }
    }
    return absl::OkStatus();
  }

  // Admit(), then ParseRequest(): OK if the handler may run with `request`,
  // otherwise the status to finish the call with instead.
  template <class Request>
  absl::Status AdmitAndParse(grpc::ServerContext& context, grpc::ByteBuffer& bytes,
                             Request& request) {
    if (absl::Status admitted = Admit(context); !admitted.ok()) return admitted;
    return ParseRequest(bytes, request);
  }

  // Whom the method's authorizer let in for the current call (empty: no
  // authorizer, or it named nobody). Set by Admit(), unchanged until the
  // slot's next call is admitted.
  const std::string& principal() const { return principal_; }

  // The call is over: its connection and method hold one call fewer.
  void ReleaseAdmission() {
    if (peer_held_) {
      env_.limits->peers->Release(peer_);
      peer_held_ = false;
    }
    if (in_flight_held_) {
      env_.limits->method_in_flight->fetch_sub(1, std::memory_order_relaxed);
      in_flight_held_ = false;
    }
  }

  // Parses a request taken raw off the wire (ParseRequestMessage: OK, or
  // INVALID_ARGUMENT naming the message type); a payload that does not parse
  // is counted.
  template <class Request>
  absl::Status ParseRequest(grpc::ByteBuffer& bytes, Request& request) {
    absl::Status parsed = ParseRequestMessage(bytes, request);
    if (!parsed.ok()) env_.counters->Add(env_.counters->bad_requests);
    return parsed;
  }

  // Serializes into a reused buffer, which gRPC requires to be empty.
  template <class Response>
  static grpc::Status SerializeResponse(const Response& response, grpc::ByteBuffer& bytes) {
    bytes.Clear();
    bool own_buffer = false;
    return grpc::SerializationTraits<Response>::Serialize(response, &bytes, &own_buffer);
  }

  // Posts the slot's request with `post` (which starts exactly that one
  // operation). Returns false if the queue is already closed.
  template <class PostFn>
  bool PostRequestIfOpen(PostFn&& post) {
    env_.counters->Add(env_.counters->requests_posted);
    if (env_.queue->StartIfOpen(std::forward<PostFn>(post))) return true;
    env_.counters->Add(env_.counters->requests_posted, -1);
    if (env_.pool != nullptr) env_.pool->Unposted();
    return false;
  }

  // A posted request came back: matched by a call (`ok`), or failed at
  // shutdown. Keeps the pool's requests posted. Without the slot's lock.
  void OnRequestReturned(bool ok) {
    if (env_.pool == nullptr) return;
    if (ok) {
      env_.pool->Replenish();
    } else {
      env_.pool->Unposted();
    }
  }

  // The call is over and all its tags are back: posts the request again, or
  // parks the slot idle in its pool (until the pool calls Repost()), or
  // retires it once the server no longer accepts calls.
  void RecycleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ReleaseAdmission();
    if (!accepting_calls()) {
      RetireLocked();
    } else if (env_.pool == nullptr || env_.pool->RepostOrPark(this)) {
      PostRequestLocked();
    }
  }

  // Metrics: a call has started; and it has ended with `code` (reported once
  // per started call, whichever path ends it). Called under the call's lock.
  void ObserveStarted() {
    if (env_.observer == nullptr) return;
    observed_start_ = absl::Now();
    observed_open_ = true;
    env_.observer->OnStarted();
  }
  void ObserveMessageReceived() {
    if (observed_open_) env_.observer->OnMessageReceived();
  }
  void ObserveMessageSent() {
    if (observed_open_) env_.observer->OnMessageSent();
  }
  void ObserveHandled(grpc::StatusCode code) {
    if (!observed_open_) return;
    observed_open_ = false;
    env_.observer->OnHandled(code, absl::Now() - observed_start_);
  }

  CallEnvironment env_;
  // Guards the call; the state machines annotate their state with it.
  absl::Mutex mu_;
  std::string peer_;
  std::string principal_;
  bool peer_held_ = false;
  bool in_flight_held_ = false;
  absl::Time observed_start_;
  bool observed_open_ = false;
  Tag operation_tag_{this, CompletionKind::kOperation};
  Tag done_tag_{this, CompletionKind::kCallDone};
};

}  // namespace engine::internal

#endif  // ENGINE_INTERNAL_CALL_SLOT_H_
