// The ProductService's order rules: what makes an order well formed, and
// what it costs. No gRPC types.
#ifndef DOMAIN_PRODUCT_ORDER_PRICING_H_
#define DOMAIN_PRODUCT_ORDER_PRICING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/inventory/limits.h"
#include "domain/product/product_catalog.h"

namespace domain::product {

struct OrderRequestLine {
  std::string product_id;
  std::int32_t quantity = 0;
};

struct PricedOrder {
  std::int64_t total_cents = 0;
};

// The most lines an order may have: the inventory's limit, since an order is
// reserved in the inventory whole.
using domain::inventory::kMaxOrderLines;

// Checks an order against the catalog and prices it. The first failure wins:
//   INVALID_ARGUMENT: an invalid order_id (product id rules), no lines, more
//     than kMaxOrderLines, a quantity <= 0, or a product named twice; the
//     message names the line ("lines[2]: ...").
//   NOT_FOUND: a product not in the catalog, naming it and its line.
//   OUT_OF_RANGE: a total that does not fit in int64 cents.
absl::StatusOr<PricedOrder> PriceOrder(const ProductCatalog& catalog, const std::string& order_id,
                                       const std::vector<OrderRequestLine>& lines);

}  // namespace domain::product

#endif  // DOMAIN_PRODUCT_ORDER_PRICING_H_
