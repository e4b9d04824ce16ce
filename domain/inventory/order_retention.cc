#include "domain/inventory/order_retention.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"

namespace domain::inventory {

absl::Duration OrderRetention::SweepInterval(absl::Duration retention) {
  return std::clamp(retention / 10, absl::Milliseconds(100), absl::Minutes(1));
}

OrderRetention::OrderRetention(InventoryStore& store, absl::Duration retention,
                               SweepObserver observer)
    : store_(store),
      retention_(retention),
      interval_(SweepInterval(retention)),
      observer_(std::move(observer)),
      thread_([this] { Run(); }) {}

OrderRetention::~OrderRetention() {
  stop_.Notify();
  thread_.join();
}

std::size_t OrderRetention::SweepNow() {
  const std::size_t forgotten = store_.ForgetReleasedBefore(absl::Now() - retention_);
  if (observer_) observer_(forgotten, store_.order_count());
  return forgotten;
}

void OrderRetention::Run() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) SweepNow();
}

}  // namespace domain::inventory
