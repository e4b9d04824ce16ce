#include "domain/product/order_pricing.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "domain/inventory/product_id.h"

namespace domain::product {

absl::StatusOr<PricedOrder> PriceOrder(const ProductCatalog& catalog, const std::string& order_id,
                                       const std::vector<OrderRequestLine>& lines) {
  if (absl::Status valid = domain::inventory::ValidateProductId(order_id); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("order_id: ", order_id.empty() ? "is empty" : valid.message()));
  }
  if (lines.empty()) return absl::InvalidArgumentError("order has no lines");
  if (lines.size() > kMaxOrderLines) {
    return absl::InvalidArgumentError(
        absl::StrCat("order has ", lines.size(), " lines; the limit is ", kMaxOrderLines));
  }
  absl::flat_hash_set<absl::string_view> seen;
  PricedOrder priced;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const OrderRequestLine& line = lines[i];
    const std::string where = absl::StrCat("lines[", i, "]: ");
    if (absl::Status valid = domain::inventory::ValidateProductId(line.product_id); !valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, valid.message()));
    }
    if (line.quantity <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, "quantity for '", line.product_id,
                                                     "' must be positive, got ", line.quantity));
    }
    if (!seen.insert(line.product_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "product '", line.product_id, "' appears more than once"));
    }
    const ProductInfo* info = catalog.Find(line.product_id);
    if (info == nullptr) {
      return absl::NotFoundError(absl::StrCat(where, "unknown product '", line.product_id, "'"));
    }
    std::int64_t line_total = 0;
    if (__builtin_mul_overflow(info->price_cents, std::int64_t{line.quantity}, &line_total) ||
        __builtin_add_overflow(priced.total_cents, line_total, &priced.total_cents)) {
      return absl::OutOfRangeError("the order total does not fit in 64-bit cents");
    }
  }
  return priced;
}

}  // namespace domain::product
