// The unary call state machine (internal to the engine).
//
//   kAwaitingRequest --op ok--> kInHandler --Finish()--> kFinishing --op--> kFinished
//         |            (bad payload, or shed by admission, straight to kFinishing) |
//         +--op !ok (shutdown)--> kRetired      kFinished + done tag seen --> recycle
//
// Recycling posts the request again if the pool is below its posted target,
// or parks the slot idle (kFinished) until the pool calls Repost(). A matched
// request makes the pool post another at once (OnRequestReturned), so a call
// stuck on a slow peer never keeps new calls from being accepted.
//
// Two tags are outstanding per started call: the operation tag (request, then
// Finish) and, when the method watches cancellation, the AsyncNotifyWhenDone
// tag. The slot is recycled only when both have come back; the done tag is
// never delivered for a request that failed, so a failed request retires the
// slot at once.
#ifndef ENGINE_INTERNAL_UNARY_CALL_H_
#define ENGINE_INTERNAL_UNARY_CALL_H_

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/internal/call_slot.h"
#include "engine/status.h"
#include "engine/unary_responder.h"

namespace engine::internal {

// Starts gRPC's raw request for one method on one queue; bound to the
// method's index in its RawService by ServiceRegistration.
using RawUnaryRequester = std::function<void(grpc::ServerContext*, grpc::ByteBuffer*,
                                             grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>*,
                                             grpc::ServerCompletionQueue*, Tag*)>;

template <class Request, class Response>
class UnaryCall final : public CallSlot, public UnaryCompletion<Response> {
 public:
  enum class State { kIdle, kAwaitingRequest, kInHandler, kFinishing, kFinished, kRetired };

  UnaryCall(CallEnvironment env, RawUnaryRequester requester,
            const UnaryHandler<Request, Response>* handler, bool watch_cancellation)
      : CallSlot(std::move(env)),
        requester_(std::move(requester)),
        handler_(handler),
        watch_cancellation_(watch_cancellation) {}

  void OnCompletion(CompletionKind kind, bool ok) override {
    absl::ReleasableMutexLock lock(&mu_);
    if (kind == CompletionKind::kCallDone) {
      // Whatever `ok` says (gRPC passes ok=false for some cancellations),
      // the call is over and IsCancelled() is reliable now.
      done_pending_ = false;
      if (context_->IsCancelled()) {
        cancelled_.store(true, std::memory_order_release);
        env_.counters->Add(env_.counters->cancelled);
      }
      RecycleIfIdleLocked();
      return;
    }
    switch (state_) {
      case State::kAwaitingRequest: {
        env_.counters->Add(env_.counters->requests_posted, -1);
        if (!ok) {
          // The server is shutting down; gRPC will not deliver the done tag.
          env_.counters->Add(env_.counters->requests_failed);
          RetireLocked();
          lock.Release();
          OnRequestReturned(false);
          return;
        }
        done_pending_ = watch_cancellation_;
        env_.counters->Add(env_.counters->calls_started);
        ObserveStarted();
        ObserveMessageReceived();
        // A call over its limits, or a payload that does not parse, is
        // answered without running the handler.
        if (absl::Status admitted = AdmitAndParse(*context_, request_bytes_, request_);
            !admitted.ok()) {
          StartFinishLocked(admitted);
          lock.Release();
          OnRequestReturned(true);
          return;
        }
        state_ = State::kInHandler;
        env_.counters->Add(env_.counters->handlers_running);
        // The handler may call Finish synchronously, which takes mu_.
        lock.Release();
        OnRequestReturned(true);
        (*handler_)(UnaryResponder<Response>(this), request_);
        return;
      }
      case State::kFinishing:
        env_.counters->Add(ok ? env_.counters->finishes_ok : env_.counters->finishes_failed);
        state_ = State::kFinished;
        RecycleIfIdleLocked();
        return;
      case State::kIdle:
      case State::kInHandler:
      case State::kFinished:
      case State::kRetired:
        break;
    }
    // An operation tag in any other state would mean two operations were in
    // flight at once: a broken invariant, not a runtime condition.
    std::abort();
  }

  // UnaryCompletion: called through UnaryResponder, from any thread.
  Response& response() override { return response_; }
  bool IsCancelled() const override { return cancelled_.load(std::memory_order_acquire); }
  grpc::ServerContext& context() override { return *context_; }
  const std::string& principal() const override { return CallSlot::principal(); }
  void Finish(const absl::Status& status) override {
    absl::MutexLock lock(&mu_);
    env_.counters->Add(env_.counters->handlers_running, -1);
    StartFinishLocked(status);
  }

 private:
  void PostRequestLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writer_.reset();
    context_.emplace();
    writer_.emplace(&*context_);
    request_.Clear();
    response_.Clear();
    cancelled_.store(false, std::memory_order_relaxed);
    if (watch_cancellation_) context_->AsyncNotifyWhenDone(done_tag_.ToCompletionQueueTag());
    state_ = State::kAwaitingRequest;
    bool posted = PostRequestIfOpen([&] {
      requester_(&*context_, &request_bytes_, &*writer_, env_.queue->cq(), &operation_tag_);
    });
    if (!posted) RetireLocked();
  }

  void StartFinishLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    state_ = State::kFinishing;
    bool started = env_.queue->StartIfOpen([&] {
      if (status.ok()) {
        grpc::Status serialized = SerializeResponse(response_, response_bytes_);
        if (serialized.ok()) {
          writer_->Finish(response_bytes_, grpc::Status::OK, operation_tag_.ToCompletionQueueTag());
          ObserveMessageSent();
        } else {
          writer_->FinishWithError(serialized, operation_tag_.ToCompletionQueueTag());
        }
        ObserveHandled(serialized.error_code());
      } else {
        writer_->FinishWithError(ToGrpcStatus(status), operation_tag_.ToCompletionQueueTag());
        ObserveHandled(static_cast<grpc::StatusCode>(status.code()));
      }
    });
    // The queues closed first: the client sees the server go away.
    ObserveHandled(grpc::StatusCode::UNAVAILABLE);
    if (!started) {
      // The queues were closed before the handler answered: nothing more can
      // be sent and no tag will come back for this call.
      env_.counters->Add(env_.counters->abandoned);
      done_pending_ = false;
      RetireLocked();
    }
  }

  void RecycleIfIdleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (state_ == State::kFinished && !done_pending_) RecycleLocked();
  }

  void RetireLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ReleaseAdmission();
    state_ = State::kRetired;
    env_.counters->Add(env_.counters->slots_retired);
  }

  bool ParkedLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_ == State::kFinished;
  }

  const RawUnaryRequester requester_;
  const UnaryHandler<Request, Response>* const handler_;
  const bool watch_cancellation_;

  State state_ ABSL_GUARDED_BY(mu_) = State::kIdle;
  bool done_pending_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> cancelled_{false};
  // Rebuilt in place for every RPC: gRPC contexts cannot be reused, but
  // emplacing into the slot avoids a heap allocation per call.
  std::optional<grpc::ServerContext> context_;
  std::optional<grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>> writer_;
  grpc::ByteBuffer request_bytes_;
  grpc::ByteBuffer response_bytes_;
  // Reused across calls: Clear() keeps string capacity, so steady-state calls
  // parse and serialize without allocating message storage.
  Request request_;
  Response response_;
};

}  // namespace engine::internal

#endif  // ENGINE_INTERNAL_UNARY_CALL_H_
