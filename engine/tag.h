// The one type in the project that touches completion-queue tags.
//
// gRPC's completion queue identifies finished operations by an opaque
// `void*`. Every other file in the engine (and the bench's own gRPC clients
// and servers) works with `Tag` objects and the `CompletionKind` they carry,
// so a tag can never be confused with an unrelated pointer and every
// completion is routed by type, not by cast.
#ifndef ENGINE_TAG_H_
#define ENGINE_TAG_H_

#include <grpc/grpc.h>
#include <grpcpp/completion_queue.h>

#include <cstdint>

namespace engine {

// Which of its outstanding operations a completion belongs to. A call has at
// most one operation of each kind outstanding at any time; that invariant is
// what lets one Tag object per kind be reused for the whole life of a call.
enum class CompletionKind : std::uint8_t {
  // The call's main operation: the posted request, a Write, or the Finish.
  kOperation,
  // The AsyncNotifyWhenDone notification: the RPC is over (finished,
  // cancelled by the client, or past its deadline).
  kCallDone,
  // A grpc::Alarm used to move work from another thread onto the call's
  // completion-queue thread.
  kWake,
};

// Receives the completions of the tags it owns. Implemented by the call
// state machines; invoked only on the thread that drains the call's queue.
class CompletionHandler {
 public:
  virtual void OnCompletion(CompletionKind kind, bool ok) = 0;

 protected:
  ~CompletionHandler() = default;
};

// A completion-queue tag: (handler, kind). Embedded by value in its handler,
// so a tag lives exactly as long as the call object that posts it.
class Tag {
 public:
  Tag(CompletionHandler* handler, CompletionKind kind) : handler_(handler), kind_(kind) {}
  Tag(const Tag&) = delete;
  Tag& operator=(const Tag&) = delete;

  // The value handed to gRPC when the operation is started.
  void* ToCompletionQueueTag() { return this; }

  // Blocks for the next event of `cq` and returns its tag, or nullptr once
  // the queue has been shut down and every outstanding tag was returned.
  static Tag* Next(grpc::CompletionQueue* cq, bool* ok);

  // Like Next, but gives up at `deadline` (anything CompletionQueue::AsyncNext
  // takes: a gpr_timespec, a std::chrono time point), for a loop that has
  // work of its own due at a given time, such as a load generator sending on
  // a schedule. A deadline already past does not block: it returns an event
  // that is ready, if any. Returns nullptr both on timeout and once the queue
  // is shut down and drained; `status`, if not null, tells which.
  template <typename Deadline>
  static Tag* AsyncNext(grpc::CompletionQueue* cq, const Deadline& deadline, bool* ok,
                        grpc::CompletionQueue::NextStatus* status = nullptr) {
    DrainedByThisThread() = cq;
    void* completion_queue_tag = nullptr;
    const grpc::CompletionQueue::NextStatus next =
        cq->AsyncNext(&completion_queue_tag, ok, deadline);
    if (status != nullptr) *status = next;
    if (next != grpc::CompletionQueue::GOT_EVENT) return nullptr;
    return static_cast<Tag*>(completion_queue_tag);
  }

  // The same for a queue of gRPC's C API (grpc_completion_queue_create_for_next),
  // for code that starts its operations with grpc_call_start_batch and this
  // tag's ToCompletionQueueTag(): the next event of `cq` until `deadline`
  // (gpr_inf_past: only one already there; gpr_inf_future: blocks), or
  // nullptr on timeout and once the queue is shut down and drained
  // (`shut_down`, if not null, tells which). Every tag on such a queue must
  // be a Tag. It does not set QueueDrainedByThisThread (that names a C++
  // queue).
  static Tag* NextFromCoreQueue(grpc_completion_queue* cq, gpr_timespec deadline, bool* ok,
                                bool* shut_down = nullptr);

  // Hands the event to the handler that owns this tag.
  void Complete(bool ok) { handler_->OnCompletion(kind_, ok); }

  // What a queue's thread runs: hands every event of `cq` to its tag's
  // handler until the queue has been shut down and drained.
  static void CompleteAllUntilShutdown(grpc::CompletionQueue* cq);

  // Drains `cq`, which must have been shut down, discarding its events
  // without running their handlers. Unlike Next, it leaves the calling
  // thread's QueueDrainedByThisThread() as it was: a thread that discards a
  // closed queue's leftovers (e.g. after a failed start) is not that
  // queue's drainer, and may still shut down a client that used it.
  static void DiscardAllAfterShutdown(grpc::CompletionQueue* cq);

  // The queue this thread last waited on through Next or AsyncNext, or null.
  // Code that blocks until a queue's events are handled checks it to refuse
  // to run on a thread that must deliver them (it would wait for itself).
  static grpc::CompletionQueue* QueueDrainedByThisThread();

 private:
  // The slot behind QueueDrainedByThisThread(), one per thread.
  static grpc::CompletionQueue*& DrainedByThisThread();

  CompletionHandler* const handler_;
  const CompletionKind kind_;
};

}  // namespace engine

#endif  // ENGINE_TAG_H_
