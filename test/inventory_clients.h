// Typed test clients of the InventoryService's stock RPCs: each call builds
// its request, sets a 30 s deadline (a hang guard) and returns the status.
// For look-ups, see InventoryTestServer::Get and Batch.
#ifndef TEST_INVENTORY_CLIENTS_H_
#define TEST_INVENTORY_CLIENTS_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "inventory.grpc.pb.h"

namespace testing_util {

// (product_id, quantity) per order line.
using StockLines = std::vector<std::pair<std::string, int>>;

inventory::ReserveStockRequest ReserveStockRequestFor(const std::string& order_id,
                                                      const StockLines& lines);
// Appends `lines` to a request with repeated `lines` of product_id and
// quantity (ReserveStockRequest, product.PlaceOrderRequest).
template <class Request>
void AddLines(const StockLines& lines, Request& request) {
  for (const auto& [product, quantity] : lines) {
    auto* line = request.add_lines();
    line->set_product_id(product);
    line->set_quantity(quantity);
  }
}

// ReserveStock; `response` may be null. With `wait_for_ready` the call waits
// for a connection instead of failing fast with UNAVAILABLE.
grpc::Status Reserve(inventory::InventoryService::Stub& stub, const std::string& order_id,
                     const StockLines& lines, inventory::ReserveStockResponse* response = nullptr,
                     bool wait_for_ready = false);
grpc::Status Release(inventory::InventoryService::Stub& stub, const std::string& order_id,
                     inventory::ReleaseReservationResponse* response = nullptr);
grpc::Status SetStock(inventory::InventoryService::Stub& stub, const std::string& product_id,
                      int quantity, inventory::SetStockResponse* response = nullptr);

// A WatchProductAvailability stream (60 s deadline) and what it received.
class WatchReader {
 public:
  WatchReader(inventory::InventoryService::Stub& stub, const std::vector<std::string>& ids);

  // Reads until `predicate` holds for what was received (or the stream ends).
  bool ReadUntil(
      const std::function<bool(const std::vector<inventory::ProductAvailability>&)>& predicate);
  bool ReadCount(std::size_t count);
  // Reads what is left, then the status.
  grpc::Status Finish();
  void Cancel() { context_.TryCancel(); }
  const std::vector<inventory::ProductAvailability>& received() const { return received_; }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<inventory::ProductAvailability>> reader_;
  std::vector<inventory::ProductAvailability> received_;
};

}  // namespace testing_util

#endif  // TEST_INVENTORY_CLIENTS_H_
