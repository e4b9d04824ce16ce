#include "test/inventory_clients.h"

#include "test/loopback.h"
#include "test/test_util.h"

namespace testing_util {

using inventory::InventoryService;

inventory::ReserveStockRequest ReserveStockRequestFor(const std::string& order_id,
                                                      const StockLines& lines) {
  inventory::ReserveStockRequest request;
  request.set_order_id(order_id);
  AddLines(lines, request);
  return request;
}

grpc::Status Reserve(InventoryService::Stub& stub, const std::string& order_id,
                     const StockLines& lines, inventory::ReserveStockResponse* response,
                     bool wait_for_ready) {
  return CallWithDeadline(
      [&](grpc::ClientContext* context, inventory::ReserveStockResponse* out) {
        context->set_wait_for_ready(wait_for_ready);
        return stub.ReserveStock(context, ReserveStockRequestFor(order_id, lines), out);
      },
      response);
}

grpc::Status Release(InventoryService::Stub& stub, const std::string& order_id,
                     inventory::ReleaseReservationResponse* response) {
  inventory::ReleaseReservationRequest request;
  request.set_order_id(order_id);
  return CallWithDeadline(
      [&](grpc::ClientContext* context, inventory::ReleaseReservationResponse* out) {
        return stub.ReleaseReservation(context, request, out);
      },
      response);
}

grpc::Status SetStock(InventoryService::Stub& stub, const std::string& product_id, int quantity,
                      inventory::SetStockResponse* response) {
  inventory::SetStockRequest request;
  request.set_product_id(product_id);
  request.set_quantity(quantity);
  return CallWithDeadline(
      [&](grpc::ClientContext* context, inventory::SetStockResponse* out) {
        return stub.SetStock(context, request, out);
      },
      response);
}

WatchReader::WatchReader(InventoryService::Stub& stub, const std::vector<std::string>& ids) {
  inventory::WatchProductAvailabilityRequest request;
  for (const std::string& id : ids) request.add_product_ids(id);
  context_.set_deadline(DeadlineIn(absl::Seconds(60)));
  reader_ = stub.WatchProductAvailability(&context_, request);
}

bool WatchReader::ReadUntil(
    const std::function<bool(const std::vector<inventory::ProductAvailability>&)>& predicate) {
  inventory::ProductAvailability message;
  while (!predicate(received_)) {
    if (!reader_->Read(&message)) return false;
    received_.push_back(message);
  }
  return true;
}

bool WatchReader::ReadCount(std::size_t count) {
  return ReadUntil([count](const auto& received) { return received.size() >= count; });
}

grpc::Status WatchReader::Finish() {
  inventory::ProductAvailability message;
  while (reader_->Read(&message)) received_.push_back(message);
  return reader_->Finish();
}

}  // namespace testing_util
