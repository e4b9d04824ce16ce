#include "server/inventory/availability_watch.h"

#include <utility>

namespace server::inventory {

AvailabilityWatch::AvailabilityWatch(InventoryStore& store, std::vector<std::string> product_ids,
                                     engine::StreamWaker waker)
    : store_(store), product_ids_(std::move(product_ids)), waker_(waker) {
  store_.Watch(product_ids_, this);
}

AvailabilityWatch::~AvailabilityWatch() { StopWatching(); }

void AvailabilityWatch::StopWatching() {
  if (!watching_) return;
  watching_ = false;
  store_.Unwatch(product_ids_, this);
}

void AvailabilityWatch::OnStockChanged(absl::string_view product_id, Availability availability) {
  {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = latest_.insert_or_assign(std::string(product_id), availability);
    if (inserted) send_order_.push_back(it->first);
  }
  // Outside mu_: Next() holds the stream's lock while it takes mu_.
  waker_.Wake();
}

engine::StreamStep AvailabilityWatch::Next(ProductAvailability& message) {
  absl::MutexLock lock(&mu_);
  if (send_order_.empty()) return engine::StreamStep::kWait;
  auto node = latest_.extract(send_order_.front());
  send_order_.pop_front();
  message.set_product_id(std::move(node.key()));
  message.set_is_available(node.mapped().is_available);
  message.set_quantity(node.mapped().quantity);
  return engine::StreamStep::kSend;
}

void AvailabilityWatch::OnClosed(bool cancelled) { StopWatching(); }

}  // namespace server::inventory
