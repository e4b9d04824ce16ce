// The look-ups one lane of the batching client holds: a pool of entries,
// the FIFO of those waiting to be sent, and the order of their deadlines.
// No gRPC and no locking: the lane calls every method under its own lock.
//
// Complexity (n = entries queued):
//   Allocate, Free, PushBack, front, size: O(1), and no allocation once the
//     pool has grown to the most entries ever in use at once;
//   WatchDeadline, Drop, PopFront: O(log n); EarliestDeadline: O(1).
//
// The FIFO is intrusive (links in the entries) and the deadline order an
// indexed binary heap (each entry knows its heap position), because a
// cancelled or expired look-up leaves from the middle of both. std::list
// (spliced between a free and a queued list) and absl::btree_set were tried
// in their place and cost several times as much CPU per queued look-up.
//
// Not for users: part of client/batching_inventory_client's implementation.
#ifndef CLIENT_INTERNAL_LOOKUP_QUEUE_H_
#define CLIENT_INTERNAL_LOOKUP_QUEUE_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "client/lookup_result.h"

namespace client::internal {

class BatchCall;
class UnaryCall;

enum class EntryState : std::uint8_t {
  kFree,    // in the pool, or allocated and not yet queued or sent
  kQueued,  // in the FIFO, waiting to be sent
  kSent,    // carried by an RPC (PopFront, or set by the lane for unary RPCs)
};

// One look-up. Entries are pooled: never freed before their queue, reused
// after Free(); `generation` tells a ticket whether its look-up is still
// the one in the entry. The public fields are the lane's; the queue itself
// touches only state, generation and what Free() clears.
struct LookupEntry {
  std::string product_id;   // batching mode only; keeps its capacity across reuse
  LookupCallback callback;  // empty once claimed: whoever empties it delivers
  absl::Time deadline = absl::InfiniteFuture();
  absl::Time enqueued_at;
  std::uint64_t generation = 0;  // bumped by Free()
  EntryState state = EntryState::kFree;
  bool expired_at_send = false;  // kSent past its deadline: not asked, fails DEADLINE_EXCEEDED
  BatchCall* batch = nullptr;    // while kSent, batching mode
  UnaryCall* unary = nullptr;    // while kSent, unary mode

 private:
  friend class LookupQueue;
  LookupEntry* prev_ = nullptr;  // FIFO links while kQueued
  LookupEntry* next_ = nullptr;
  int heap_pos_ = -1;  // index in the deadline heap while watched, else -1
};

class LookupQueue {
 public:
  LookupQueue() = default;
  LookupQueue(const LookupQueue&) = delete;
  LookupQueue& operator=(const LookupQueue&) = delete;

  // An entry to fill in: the most recently freed one, or a new one. Its
  // state is kFree, and it keeps its address until the queue is destroyed.
  LookupEntry* Allocate();
  // Returns an entry that is not queued (kFree or kSent) to the pool: clears
  // its callback, batch and unary, and bumps its generation. A queued entry
  // leaves through Drop() instead.
  void Free(LookupEntry* entry);

  // Appends an allocated entry to the FIFO (state kQueued).
  void PushBack(LookupEntry* entry);
  // Adds a queued entry to the deadline order (EarliestDeadline). Separate
  // from PushBack so that a look-up that is sent at once, or has no
  // deadline, never pays for it. At most once per PushBack.
  void WatchDeadline(LookupEntry* entry);
  // Takes a queued entry out of the FIFO and the deadline order and frees it
  // (as Free). Claim its callback first.
  void Drop(LookupEntry* entry);
  // Takes the oldest queued entry out of the FIFO and the deadline order and
  // marks it kSent; null if nothing is queued.
  LookupEntry* PopFront();

  // The oldest queued entry; null if nothing is queued.
  LookupEntry* front() const { return head_; }
  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The watched entry with the earliest deadline (ties: any of them); null
  // if none is watched.
  LookupEntry* EarliestDeadline() const { return heap_.empty() ? nullptr : heap_.front(); }

 private:
  // Out of the FIFO and, if watched, the deadline heap.
  void Unlink(LookupEntry* entry);
  void HeapRemove(LookupEntry* entry);
  void HeapSiftUp(int pos);
  void HeapSiftDown(int pos);
  void HeapSwap(int a, int b);

  std::deque<LookupEntry> entries_;  // every entry ever made: stable addresses
  std::vector<LookupEntry*> free_;   // the pool, most recently freed last
  LookupEntry* head_ = nullptr;      // the FIFO, oldest first
  LookupEntry* tail_ = nullptr;
  int size_ = 0;
  std::vector<LookupEntry*> heap_;  // min-heap on deadline of the watched entries
};

}  // namespace client::internal

#endif  // CLIENT_INTERNAL_LOOKUP_QUEUE_H_
