#include "engine/tag.h"

namespace engine {

Tag* Tag::Next(grpc::CompletionQueue* cq, bool* ok) {
  DrainedByThisThread() = cq;
  void* completion_queue_tag = nullptr;
  if (!cq->Next(&completion_queue_tag, ok)) return nullptr;
  return static_cast<Tag*>(completion_queue_tag);
}

Tag* Tag::NextFromCoreQueue(grpc_completion_queue* cq, gpr_timespec deadline, bool* ok,
                            bool* shut_down) {
  const grpc_event event = grpc_completion_queue_next(cq, deadline, nullptr);
  if (shut_down != nullptr) *shut_down = event.type == GRPC_QUEUE_SHUTDOWN;
  if (event.type != GRPC_OP_COMPLETE) return nullptr;
  *ok = event.success != 0;
  return static_cast<Tag*>(event.tag);
}

void Tag::CompleteAllUntilShutdown(grpc::CompletionQueue* cq) {
  bool ok = false;
  while (Tag* tag = Next(cq, &ok)) tag->Complete(ok);
}

void Tag::DiscardAllAfterShutdown(grpc::CompletionQueue* cq) {
  grpc::CompletionQueue* const previous = DrainedByThisThread();
  bool ok = false;
  while (Next(cq, &ok) != nullptr) {
  }
  DrainedByThisThread() = previous;
}

grpc::CompletionQueue* Tag::QueueDrainedByThisThread() { return DrainedByThisThread(); }

grpc::CompletionQueue*& Tag::DrainedByThisThread() {
  static thread_local grpc::CompletionQueue* cq = nullptr;
  return cq;
}

}  // namespace engine
