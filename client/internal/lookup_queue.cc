#include "client/internal/lookup_queue.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace client::internal {
namespace {

// A broken calling contract would corrupt the links: stop at once instead.
void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "LookupQueue: %s\n", what);
    std::abort();
  }
}

}  // namespace

LookupEntry* LookupQueue::Allocate() {
  if (free_.empty()) return &entries_.emplace_back();
  LookupEntry* entry = free_.back();
  free_.pop_back();
  return entry;
}

void LookupQueue::Free(LookupEntry* entry) {
  Check(entry->state != EntryState::kQueued, "Free() of a queued entry (use Drop)");
  entry->state = EntryState::kFree;
  ++entry->generation;
  entry->batch = nullptr;
  entry->unary = nullptr;
  entry->callback = nullptr;
  free_.push_back(entry);
}

void LookupQueue::PushBack(LookupEntry* entry) {
  Check(entry->state != EntryState::kQueued, "PushBack() of a queued entry");
  entry->state = EntryState::kQueued;
  entry->prev_ = tail_;
  entry->next_ = nullptr;
  (tail_ != nullptr ? tail_->next_ : head_) = entry;
  tail_ = entry;
  ++size_;
}

void LookupQueue::WatchDeadline(LookupEntry* entry) {
  Check(entry->state == EntryState::kQueued && entry->heap_pos_ < 0,
        "WatchDeadline() of an entry not queued, or already watched");
  entry->heap_pos_ = static_cast<int>(heap_.size());
  heap_.push_back(entry);
  HeapSiftUp(entry->heap_pos_);
}

void LookupQueue::Drop(LookupEntry* entry) {
  Check(entry->state == EntryState::kQueued, "Drop() of an entry not queued");
  Unlink(entry);
  entry->state = EntryState::kFree;  // for Free()'s check; Free() sets it again
  Free(entry);
}

LookupEntry* LookupQueue::PopFront() {
  LookupEntry* entry = head_;
  if (entry == nullptr) return nullptr;
  Unlink(entry);
  entry->state = EntryState::kSent;
  return entry;
}

void LookupQueue::Unlink(LookupEntry* entry) {
  (entry->prev_ != nullptr ? entry->prev_->next_ : head_) = entry->next_;
  (entry->next_ != nullptr ? entry->next_->prev_ : tail_) = entry->prev_;
  entry->prev_ = entry->next_ = nullptr;
  --size_;
  HeapRemove(entry);
}

// ---------------------------------------------------------------------------
// The deadline heap: heap_[0] has the earliest deadline; every entry in it
// knows its index (heap_pos_), so one can leave from anywhere.

void LookupQueue::HeapSwap(int a, int b) {
  std::swap(heap_[a], heap_[b]);
  heap_[a]->heap_pos_ = a;
  heap_[b]->heap_pos_ = b;
}

void LookupQueue::HeapSiftUp(int pos) {
  while (pos > 0) {
    const int parent = (pos - 1) / 2;
    if (heap_[parent]->deadline <= heap_[pos]->deadline) break;
    HeapSwap(parent, pos);
    pos = parent;
  }
}

void LookupQueue::HeapSiftDown(int pos) {
  const int size = static_cast<int>(heap_.size());
  while (true) {
    int smallest = pos;
    for (int child : {2 * pos + 1, 2 * pos + 2}) {
      if (child < size && heap_[child]->deadline < heap_[smallest]->deadline) smallest = child;
    }
    if (smallest == pos) return;
    HeapSwap(pos, smallest);
    pos = smallest;
  }
}

void LookupQueue::HeapRemove(LookupEntry* entry) {
  const int pos = entry->heap_pos_;
  if (pos < 0) return;
  entry->heap_pos_ = -1;
  LookupEntry* last = heap_.back();
  heap_.pop_back();
  if (last == entry) return;
  heap_[pos] = last;
  last->heap_pos_ = pos;
  HeapSiftDown(pos);
  HeapSiftUp(last->heap_pos_);
}

}  // namespace client::internal
