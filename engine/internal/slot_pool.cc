#include "engine/internal/slot_pool.h"

#include <utility>

#include "engine/internal/call_slot.h"

namespace engine::internal {

SlotPool::~SlotPool() = default;

void SlotPool::Start() {
  std::vector<CallSlot*> made;
  {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < posted_target_; ++i) {
      budget_->Force();
      slots_.push_back(make_slot_(this));
      made.push_back(slots_.back().get());
    }
    posted_ = posted_target_;
  }
  for (CallSlot* slot : made) slot->Repost();
}

void SlotPool::Replenish() {
  CallSlot* slot = nullptr;
  {
    absl::MutexLock lock(&mu_);
    --posted_;
    if (posted_ >= posted_target_) return;
    if (!idle_.empty()) {
      slot = idle_.back();
      idle_.pop_back();
    } else if (budget_->TryTake()) {
      slots_.push_back(make_slot_(this));
      slot = slots_.back().get();
    } else {
      // At the budget: the next slot to finish posts again (RepostOrPark).
      return;
    }
    ++posted_;
  }
  slot->Repost();
}

bool SlotPool::RepostOrPark(CallSlot* slot) {
  absl::MutexLock lock(&mu_);
  if (posted_ < posted_target_) {
    ++posted_;
    return true;
  }
  idle_.push_back(slot);
  return false;
}

void SlotPool::Unposted() {
  absl::MutexLock lock(&mu_);
  --posted_;
}

void SlotPool::BeginShutdown() {
  std::vector<CallSlot*> slots;
  {
    absl::MutexLock lock(&mu_);
    for (auto& slot : slots_) slots.push_back(slot.get());
  }
  for (CallSlot* slot : slots) slot->BeginShutdown();
}

void SlotPool::RetireIdle() {
  std::vector<CallSlot*> idle;
  {
    absl::MutexLock lock(&mu_);
    idle.swap(idle_);
  }
  for (CallSlot* slot : idle) slot->RetireIdle();
}

std::int64_t SlotPool::size() {
  absl::MutexLock lock(&mu_);
  return static_cast<std::int64_t>(slots_.size());
}

}  // namespace engine::internal
