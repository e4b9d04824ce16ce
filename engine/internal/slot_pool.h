// Where call slots come from, and who may have one (internal to the engine).
//
// Requests posted ahead and calls in flight are separate numbers. A SlotPool
// keeps `posted` requests of one method posted on one queue: as soon as one
// is matched by a call, another slot (an idle one, or a new one) posts in its
// place. So a call that waits on a slow peer (a client that never reads its
// response holds its slot until the response is flushed) never stops new
// calls from being accepted. The pools of an engine grow on demand up to one
// shared SlotBudget, the documented bound on the engine's call memory; at the
// bound, finished slots post again instead of new ones being made.
//
// Admission then decides, per matched call, whether it reaches its handler:
// a connection may hold at most `max_calls_per_peer` calls (more are answered
// RESOURCE_EXHAUSTED at once, and past twice that they are reset, which frees
// their slot without waiting for the peer to read), and a method may have at
// most its own `max_in_flight` calls in its handler (more: RESOURCE_EXHAUSTED).
#ifndef ENGINE_INTERNAL_SLOT_POOL_H_
#define ENGINE_INTERNAL_SLOT_POOL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "engine/call_authorizer.h"

namespace engine::internal {

class CallSlot;
struct CallEnvironment;

// The most slots all pools of one engine may hold together.
class SlotBudget {
 public:
  explicit SlotBudget(std::int64_t limit) : limit_(limit) {}
  // Takes one slot's worth; false at the limit.
  bool TryTake() {
    std::int64_t used = used_.load(std::memory_order_relaxed);
    while (used < limit_) {
      if (used_.compare_exchange_weak(used, used + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  // Counts a slot made regardless of the limit (the ones posted at start).
  void Force() { used_.fetch_add(1, std::memory_order_relaxed); }
  std::int64_t used() const { return used_.load(std::memory_order_relaxed); }
  std::int64_t limit() const { return limit_; }

 private:
  const std::int64_t limit_;
  std::atomic<std::int64_t> used_{0};
};

// Calls held per connection (by gRPC's peer string, "ipv4:127.0.0.1:5555",
// which names one connection), across every method and queue.
class PeerCalls {
 public:
  // Counts one more call of `peer`; returns how many it now holds.
  int Acquire(const std::string& peer) {
    absl::MutexLock lock(&mu_);
    return ++calls_[peer];
  }
  void Release(const std::string& peer) {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(peer);
    if (it != calls_.end() && --it->second == 0) calls_.erase(it);
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
};

// The limits every call of one method is admitted under.
struct AdmissionLimits {
  int max_calls_per_peer = 0;  // 0: unlimited
  int max_in_flight = 0;       // per method, across queues; 0: unlimited
  PeerCalls* peers = nullptr;  // null: no per-peer limit
  std::atomic<int>* method_in_flight = nullptr;
  // The method's authorization check; null: none.
  const engine::MethodAuthorizer* authorizer = nullptr;
};

// One method's slots on one queue.
class SlotPool {
 public:
  // Makes a slot whose environment names `pool` (the pool making it).
  using Factory = std::function<std::unique_ptr<CallSlot>(SlotPool* pool)>;

  // `make_slot` builds a slot bound to this pool; `posted` requests are kept
  // posted; new slots come out of `budget`.
  SlotPool(Factory make_slot, int posted, SlotBudget* budget)
      : make_slot_(std::move(make_slot)), posted_target_(posted), budget_(budget) {}
  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;
  ~SlotPool();

  // Makes and posts the first `posted` slots (counted against the budget
  // even past its limit). Before the queue's thread runs.
  void Start();

  // A posted request of this pool was matched: post another in its place,
  // from an idle slot or a new one within the budget. Call without holding
  // any slot's lock.
  void Replenish();

  // A slot's call is over and the server still accepts calls: true if the
  // slot should post again now (the pool is below its posted target); false
  // if it was parked as idle. Called with the slot's lock held.
  bool RepostOrPark(CallSlot* slot);

  // One of this pool's posted requests failed or could not be posted
  // (shutdown): it no longer counts as posted.
  void Unposted();

  // Shutdown: tells every slot (streams flush and finish).
  void BeginShutdown();

  // After the queue is drained: retires the idle slots, so that every slot
  // is accounted for as retired.
  void RetireIdle();

  std::int64_t size();

 private:
  const Factory make_slot_;
  const int posted_target_;
  SlotBudget* const budget_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<CallSlot>> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<CallSlot*> idle_ ABSL_GUARDED_BY(mu_);
  int posted_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace engine::internal

#endif  // ENGINE_INTERNAL_SLOT_POOL_H_
