#include "domain/inventory/embedded_stock_mutations.h"

#include <utility>

namespace domain::inventory {

void EmbeddedStockMutations::FinishWhenDurable(StockResult result, StockDone done) {
  if (!result.ok() || journal_ == nullptr) {
    std::move(done)(std::move(result));
    return;
  }
  journal_->WhenDurable(
      [result = std::move(result), done = std::move(done)](absl::Status durable) mutable {
        if (!durable.ok()) {
          std::move(done)(std::move(durable));
        } else {
          std::move(done)(std::move(result));
        }
      });
}

void EmbeddedStockMutations::Reserve(std::string order_id, std::vector<OrderLine> lines,
                                     std::string owner, absl::Time /*deadline*/, StockDone done) {
  FinishWhenDurable(store_.Reserve(order_id, lines, owner), std::move(done));
}

void EmbeddedStockMutations::Release(std::string order_id, std::string caller,
                                     absl::Time /*deadline*/, StockDone done) {
  FinishWhenDurable(store_.Release(order_id, caller), std::move(done));
}

void EmbeddedStockMutations::Set(std::string product_id, std::int32_t quantity,
                                 absl::Time /*deadline*/, SetDone done) {
  absl::Status set = store_.Set(product_id, quantity);
  if (!set.ok() || journal_ == nullptr) {
    std::move(done)(std::move(set));
    return;
  }
  journal_->WhenDurable(std::move(done));
}

}  // namespace domain::inventory
