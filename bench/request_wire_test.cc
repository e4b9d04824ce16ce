// The hand-made request encodings against protobuf's own serializer, byte
// for byte: what the load tool sends is exactly what a generated client
// would send.
#include "bench/request_wire.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "inventory.pb.h"
#include "product.pb.h"

namespace {

using bench::wire::IdField;
using bench::wire::LineField;

std::string OrderIdField(const std::string& order_id) {
  std::string out(bench::wire::LengthDelimitedSize(order_id.size()), '\0');
  bench::wire::PutLengthDelimited(out.data(), 1, order_id);
  return out;
}

const std::vector<std::string> kIds = {"sku-00000001",        "product123", std::string(127, 'a'),
                                       std::string(128, 'b'),  // a two-byte length
                                       std::string(300, 'c'), "ünïcödé"};

}  // namespace

TEST_CASE("varints", "[wire]") {
  for (std::uint64_t value :
       {0ull, 1ull, 127ull, 128ull, 300ull, 16383ull, 16384ull, 0xffffffffull, ~0ull}) {
    char buffer[16];
    char* end = bench::wire::PutVarint(buffer, value);
    CHECK(static_cast<std::size_t>(end - buffer) == bench::wire::VarintSize(value));
  }
  CHECK(bench::wire::VarintSize(~0ull) == 10);
}

TEST_CASE("an id field is a whole single-id request", "[wire]") {
  for (const std::string& id : kIds) {
    inventory::GetProductAvailabilityRequest get;
    get.set_product_id(id);
    CHECK(IdField(id) == get.SerializeAsString());
    product::GetProductRequest product_get;
    product_get.set_product_id(id);
    CHECK(IdField(id) == product_get.SerializeAsString());
  }
}

TEST_CASE("id fields concatenated are a batch request", "[wire]") {
  inventory::BatchGetProductAvailabilityRequest batch;
  std::string bytes;
  for (const std::string& id : kIds) {
    batch.add_product_ids(id);
    bytes += IdField(id);
  }
  batch.add_product_ids(kIds[0]);  // duplicates are kept
  bytes += IdField(kIds[0]);
  CHECK(bytes == batch.SerializeAsString());
}

TEST_CASE("order id and line fields are a ReserveStock or PlaceOrder request", "[wire]") {
  const std::string order_id = "bench-1234-1700000000-0-42";
  inventory::ReserveStockRequest reserve;
  product::PlaceOrderRequest place;
  reserve.set_order_id(order_id);
  place.set_order_id(order_id);
  std::string bytes = OrderIdField(order_id);
  const std::vector<int> quantities = {1, 2, 127, 128, 1000000, -1, 0};
  for (std::size_t i = 0; i < kIds.size(); ++i) {
    const int quantity = quantities[i % quantities.size()];
    inventory::StockLine* line = reserve.add_lines();
    line->set_product_id(kIds[i]);
    line->set_quantity(quantity);
    product::OrderLine* order_line = place.add_lines();
    order_line->set_product_id(kIds[i]);
    order_line->set_quantity(quantity);
    bytes += LineField(kIds[i], quantity);
  }
  CHECK(bytes == reserve.SerializeAsString());
  CHECK(bytes == place.SerializeAsString());
}

TEST_CASE("a field table returns each field as added", "[wire]") {
  bench::wire::FieldTable table;
  for (const std::string& id : kIds) table.Add(IdField(id));
  REQUIRE(table.size() == kIds.size());
  for (std::size_t i = 0; i < kIds.size(); ++i) CHECK(table.Get(i) == IdField(kIds[i]));
}
