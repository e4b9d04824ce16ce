// The server-streaming call state machine (internal to the engine).
//
//   kAwaitingRequest --op ok--> kStreaming <--------------------+
//         |                       | Next()=kSend: Write ...op ok-+
//         |                       | Next()=kWait: idle until a wake tag
//         |                       v Next()=kFinish / write !ok / cancelled / shutdown
//         |                    kFinishing --op--> kFinished --(done tag, no wake armed)--> recycle
//         +--op !ok (shutdown)--> kRetired
//
// Tags per started call: the operation tag (request, each Write, Finish; one
// at a time), the AsyncNotifyWhenDone tag, and the wake tag of a grpc::Alarm
// that moves Wake() calls from foreign threads onto this call's queue. The
// slot is recycled only when all three are back.
//
// Locks: mu_ guards the call; wake_mu_ guards the alarm. Order is mu_ then
// wake_mu_; Wake() takes only wake_mu_, so a producer may call it while
// holding its own lock even though Next() runs under mu_ and takes that lock.
#ifndef ENGINE_INTERNAL_SERVER_STREAM_CALL_H_
#define ENGINE_INTERNAL_SERVER_STREAM_CALL_H_

#include <grpc/support/time.h>
#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/internal/call_slot.h"
#include "engine/server_stream.h"
#include "engine/status.h"

namespace engine::internal {

using RawServerStreamRequester = std::function<void(grpc::ServerContext*, grpc::ByteBuffer*,
                                                    grpc::ServerAsyncWriter<grpc::ByteBuffer>*,
                                                    grpc::ServerCompletionQueue*, Tag*)>;

template <class Request, class Response>
class ServerStreamCall final : public CallSlot, public WakeTarget {
 public:
  enum class State { kIdle, kAwaitingRequest, kStreaming, kFinishing, kFinished, kRetired };

  ServerStreamCall(CallEnvironment env, RawServerStreamRequester requester,
                   const ServerStreamHandler<Request, Response>* handler)
      : CallSlot(std::move(env)), requester_(std::move(requester)), handler_(handler) {}

  void BeginShutdown() override {
    absl::MutexLock lock(&wake_mu_);
    ArmWakeLocked();
  }

  void Wake(std::uint64_t generation) override {
    absl::MutexLock lock(&wake_mu_);
    if (generation == generation_) ArmWakeLocked();
  }

  void OnCompletion(CompletionKind kind, bool ok) override {
    if (kind == CompletionKind::kWake) {
      // ok=false would mean the alarm was cancelled; both cases mean "look again".
      env_.counters->Add(env_.counters->wakes);
      {
        absl::MutexLock wake_lock(&wake_mu_);
        wake_armed_ = false;
      }
      absl::MutexLock lock(&mu_);
      if (state_ == State::kStreaming && !write_in_flight_) PumpLocked();
      RecycleIfIdleLocked();
      return;
    }
    absl::ReleasableMutexLock lock(&mu_);
    if (kind == CompletionKind::kCallDone) {
      done_pending_ = false;
      if (context_->IsCancelled()) {
        cancelled_ = true;
        env_.counters->Add(env_.counters->cancelled);
        if (state_ == State::kStreaming && !write_in_flight_) {
          StartFinishLocked(absl::CancelledError("the client cancelled the stream"));
        }
      }
      RecycleIfIdleLocked();
      return;
    }
    switch (state_) {
      case State::kAwaitingRequest:
        env_.counters->Add(env_.counters->requests_posted, -1);
        if (!ok) {
          env_.counters->Add(env_.counters->requests_failed);
          RetireLocked();
          lock.Release();
          OnRequestReturned(false);
          return;
        }
        OnRequestLocked();
        lock.Release();
        OnRequestReturned(true);
        return;
      case State::kStreaming:
        write_in_flight_ = false;
        if (!ok) {
          // The stream is broken (client gone); no further write can succeed.
          env_.counters->Add(env_.counters->writes_failed);
          cancelled_ = true;  // the peer is gone, even if the done tag is still on its way
          StartFinishLocked(absl::CancelledError("the stream broke while writing"));
          return;
        }
        env_.counters->Add(env_.counters->writes_ok);
        ObserveMessageSent();
        if (cancelled_) {
          StartFinishLocked(absl::CancelledError("the client cancelled the stream"));
        } else if (finish_after_write_) {
          StartFinishLocked(ShuttingDown());
        } else {
          PumpLocked();
        }
        return;
      case State::kFinishing:
        env_.counters->Add(ok ? env_.counters->finishes_ok : env_.counters->finishes_failed);
        state_ = State::kFinished;
        RecycleIfIdleLocked();
        return;
      case State::kIdle:
      case State::kFinished:
      case State::kRetired:
        break;
    }
    std::abort();  // two operations in flight at once: a broken invariant
  }

 private:
  static absl::Status ShuttingDown() {
    return absl::UnavailableError("the server is shutting down");
  }

  void PostRequestLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writer_.reset();
    context_.emplace();
    writer_.emplace(&*context_);
    request_.Clear();
    cancelled_ = false;
    finish_after_write_ = false;
    context_->AsyncNotifyWhenDone(done_tag_.ToCompletionQueueTag());
    state_ = State::kAwaitingRequest;
    bool posted = PostRequestIfOpen([&] {
      requester_(&*context_, &request_bytes_, &*writer_, env_.queue->cq(), &operation_tag_);
    });
    if (!posted) RetireLocked();
  }

  void OnRequestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    done_pending_ = true;
    state_ = State::kStreaming;
    env_.counters->Add(env_.counters->calls_started);
    ObserveStarted();
    ObserveMessageReceived();
    // Refused by admission, or a payload that does not parse: headers and a
    // status at once, so a stream over the limit never waits silently.
    if (absl::Status admitted = AdmitAndParse(*context_, request_bytes_, request_);
        !admitted.ok()) {
      StartFinishLocked(admitted);
      return;
    }
    std::uint64_t generation;
    {
      absl::MutexLock wake_lock(&wake_mu_);
      generation = generation_;
      wakeable_ = true;
    }
    auto source = (*handler_)(StreamWaker(this, generation), request_);
    if (!source.ok()) {
      StartFinishLocked(source.status());
      return;
    }
    source_ = std::move(source).value();
    PumpLocked();
  }

  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (cancelled_) {
      StartFinishLocked(absl::CancelledError("the client cancelled the stream"));
      return;
    }
    const bool shutting_down = !accepting_calls();
    response_.Clear();
    switch (source_->Next(response_)) {
      case StreamStep::kSend:
        // During shutdown one last message is flushed, then the stream ends.
        finish_after_write_ = shutting_down;
        StartWriteLocked();
        return;
      case StreamStep::kWait:
        if (shutting_down) StartFinishLocked(ShuttingDown());
        return;
      case StreamStep::kFinish:
        StartFinishLocked(source_->FinalStatus());
        return;
    }
  }

  void StartWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    grpc::Status serialized = SerializeResponse(response_, response_bytes_);
    if (!serialized.ok()) {
      StartFinishLocked(ToAbslStatus(serialized));
      return;
    }
    write_in_flight_ = env_.queue->StartIfOpen(
        [&] { writer_->Write(response_bytes_, operation_tag_.ToCompletionQueueTag()); });
    if (!write_in_flight_) AbandonLocked();
  }

  void StartFinishLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (source_ != nullptr) {
      source_->OnClosed(cancelled_);
      source_.reset();
    }
    {
      absl::MutexLock wake_lock(&wake_mu_);
      wakeable_ = false;
    }
    state_ = State::kFinishing;
    ObserveHandled(static_cast<grpc::StatusCode>(status.code()));
    bool started = env_.queue->StartIfOpen(
        [&] { writer_->Finish(ToGrpcStatus(status), operation_tag_.ToCompletionQueueTag()); });
    if (!started) AbandonLocked();
  }

  // The queue closed under us (shutdown past its deadline): no tag of this
  // call will be processed any more.
  void AbandonLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (source_ != nullptr) {
      source_->OnClosed(true);
      source_.reset();
    }
    {
      absl::MutexLock wake_lock(&wake_mu_);
      wakeable_ = false;
    }
    env_.counters->Add(env_.counters->abandoned);
    ObserveHandled(grpc::StatusCode::UNAVAILABLE);  // a write could not start
    done_pending_ = false;
    RetireLocked();
  }

  void RecycleIfIdleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (state_ != State::kFinished || done_pending_) return;
    {
      absl::MutexLock wake_lock(&wake_mu_);
      if (wake_armed_) return;  // the wake tag comes back first
      ++generation_;            // stale wakers of the old stream now do nothing
    }
    RecycleLocked();
  }

  void RetireLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ReleaseAdmission();
    state_ = State::kRetired;
    env_.counters->Add(env_.counters->slots_retired);
  }

  bool ParkedLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_ == State::kFinished;
  }

  void ArmWakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(wake_mu_) {
    if (!wakeable_ || wake_armed_) return;
    wake_armed_ = env_.queue->StartIfOpen([&] {
      alarm_.emplace();
      alarm_->Set(env_.queue->cq(), gpr_now(GPR_CLOCK_MONOTONIC), wake_tag_.ToCompletionQueueTag());
    });
  }

  const RawServerStreamRequester requester_;
  const ServerStreamHandler<Request, Response>* const handler_;
  Tag wake_tag_{this, CompletionKind::kWake};

  State state_ ABSL_GUARDED_BY(mu_) = State::kIdle;
  bool done_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_after_write_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<StreamSource<Response>> source_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::ServerContext> context_;
  std::optional<grpc::ServerAsyncWriter<grpc::ByteBuffer>> writer_;
  grpc::ByteBuffer request_bytes_;
  grpc::ByteBuffer response_bytes_;
  Request request_;
  Response response_;

  absl::Mutex wake_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::uint64_t generation_ ABSL_GUARDED_BY(wake_mu_) = 0;
  bool wakeable_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool wake_armed_ ABSL_GUARDED_BY(wake_mu_) = false;
  std::optional<grpc::Alarm> alarm_ ABSL_GUARDED_BY(wake_mu_);
};

}  // namespace engine::internal

#endif  // ENGINE_INTERNAL_SERVER_STREAM_CALL_H_
