#include "domain/product/order_pricing.h"

#include <catch2/catch.hpp>
#include <limits>

namespace domain::product {
namespace {

ProductCatalog TestCatalog() {
  auto catalog = ProductCatalog::Create(
      {{"apple", "Apple", 150}, {"pear", "Pear", 99}, {"gold", "Gold", 1'000'000'000'000'000}});
  REQUIRE(catalog.ok());
  return std::move(catalog).value();
}

TEST_CASE("an order is priced line by line") {
  ProductCatalog catalog = TestCatalog();
  auto priced = PriceOrder(catalog, "o1", {{"apple", 3}, {"pear", 2}});
  REQUIRE(priced.ok());
  CHECK(priced->total_cents == 3 * 150 + 2 * 99);
}

TEST_CASE("bad orders are refused with the status and line that explain them") {
  ProductCatalog catalog = TestCatalog();
  std::vector<OrderRequestLine> too_many;
  for (int i = 0; i < 101; ++i) too_many.push_back({"apple", 1});
  const std::vector<
      std::tuple<std::string, std::vector<OrderRequestLine>, absl::StatusCode, std::string>>
      cases = {
          {"", {{"apple", 1}}, absl::StatusCode::kInvalidArgument, "order_id"},
          {"o", {}, absl::StatusCode::kInvalidArgument, "no lines"},
          {"o", too_many, absl::StatusCode::kInvalidArgument, "limit is 100"},
          {"o", {{"apple", 0}}, absl::StatusCode::kInvalidArgument, "lines[0]"},
          {"o", {{"apple", 1}, {"apple", 2}}, absl::StatusCode::kInvalidArgument, "lines[1]"},
          {"o", {{"apple", 1}, {"ghost", 1}}, absl::StatusCode::kNotFound, "'ghost'"},
          {"o", {{"gold", 10000}}, absl::StatusCode::kOutOfRange, "64-bit"},
      };
  for (const auto& [order_id, lines, code, message] : cases) {
    CAPTURE(message);
    auto priced = PriceOrder(catalog, order_id, lines);
    REQUIRE_FALSE(priced.ok());
    CHECK(priced.status().code() == code);
    CHECK_THAT(std::string(priced.status().message()), Catch::Contains(message));
  }
}

}  // namespace
}  // namespace domain::product
