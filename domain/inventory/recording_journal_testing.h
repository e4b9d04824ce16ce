// Test-only: a StockJournal that keeps every mutation the store appends, in
// order, makes each durable at once, and can be told to stop accepting.
#ifndef DOMAIN_INVENTORY_RECORDING_JOURNAL_TESTING_H_
#define DOMAIN_INVENTORY_RECORDING_JOURNAL_TESTING_H_

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "domain/inventory/stock_journal.h"

namespace domain::inventory::testing {

class RecordingJournal final : public StockJournal {
 public:
  void Append(StockMutation mutation) override {
    absl::MutexLock lock(&mu_);
    mutations_.push_back(std::move(mutation));
  }
  void WhenDurable(absl::AnyInvocable<void(absl::Status) &&> done) override {
    std::move(done)(absl::OkStatus());
  }
  absl::Status Accepting() const override {
    absl::MutexLock lock(&mu_);
    return accepting_;
  }
  void StopAccepting(absl::Status why) {
    absl::MutexLock lock(&mu_);
    accepting_ = std::move(why);
  }
  std::vector<StockMutation> mutations() const {
    absl::MutexLock lock(&mu_);
    return mutations_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<StockMutation> mutations_ ABSL_GUARDED_BY(mu_);
  absl::Status accepting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace domain::inventory::testing

#endif  // DOMAIN_INVENTORY_RECORDING_JOURNAL_TESTING_H_
