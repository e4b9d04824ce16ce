#include "domain/inventory/order_checks.h"

#include <algorithm>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "domain/inventory/limits.h"
#include "domain/inventory/product_id.h"

namespace domain::inventory {
namespace {

std::string LineRef(std::size_t index) { return absl::StrCat("lines[", index, "]"); }

}  // namespace

absl::Status ValidateOrderId(absl::string_view order_id) {
  // Order ids follow the product id rules; only the name in the message differs.
  absl::Status status = ValidateProductId(order_id);
  if (status.ok()) return status;
  absl::string_view message = status.message();
  if (absl::ConsumePrefix(&message, "product_id")) {
    return absl::InvalidArgumentError(absl::StrCat("order_id", message));
  }
  return absl::InvalidArgumentError(absl::StrCat("order_id: ", message));
}

absl::Status ValidateStockLevel(absl::string_view product_id, std::int32_t quantity) {
  if (absl::Status valid = ValidateProductId(product_id); !valid.ok()) return valid;
  if (quantity < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantity for '", product_id, "' is negative: ", quantity));
  }
  return absl::OkStatus();
}

absl::Status ValidateReservation(absl::string_view order_id, const std::vector<OrderLine>& lines) {
  if (absl::Status valid = ValidateOrderId(order_id); !valid.ok()) return valid;
  if (lines.empty()) return absl::InvalidArgumentError("order has no lines");
  if (lines.size() > kMaxOrderLines) {
    return absl::InvalidArgumentError(
        absl::StrCat("order has ", lines.size(), " lines; the limit is ", kMaxOrderLines));
  }
  absl::flat_hash_map<absl::string_view, std::size_t> first_line;
  first_line.reserve(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const OrderLine& line = lines[i];
    if (absl::Status valid = ValidateProductId(line.product_id); !valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(LineRef(i), ": ", valid.message()));
    }
    if (line.quantity <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(LineRef(i), ": quantity for '",
                                                     line.product_id, "' must be positive, got ",
                                                     line.quantity));
    }
    auto [it, inserted] = first_line.try_emplace(line.product_id, i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          LineRef(i), ": product '", line.product_id,
          "' appears more than once in the order (also at ", LineRef(it->second), ")"));
    }
  }
  return absl::OkStatus();
}

bool OwnedByAnother(absl::string_view owner, absl::string_view caller) {
  return !owner.empty() && !caller.empty() && owner != caller;
}

absl::Status NotYourOrder(absl::string_view order_id) {
  // Whose it is stays unsaid: the caller learns only that it is not theirs.
  return absl::PermissionDeniedError(
      absl::StrCat("order '", order_id, "' was reserved by another identity"));
}

absl::Status OrderNotFound(absl::string_view order_id) {
  return absl::NotFoundError(absl::StrCat("order '", order_id, "' not found"));
}

absl::Status UnknownProduct(std::size_t index, absl::string_view product_id) {
  return absl::InvalidArgumentError(
      absl::StrCat(LineRef(index), ": unknown product '", product_id, "'"));
}

absl::Status InsufficientStock(std::size_t index, absl::string_view product_id,
                               std::int32_t requested, std::int32_t available) {
  return absl::FailedPreconditionError(absl::StrCat("insufficient stock for product '", product_id,
                                                    "' (", LineRef(index), "): requested ",
                                                    requested, ", available ", available));
}

absl::StatusOr<std::vector<ProductStock>> ReplayOrder(const OrderState& recorded,
                                                      const std::vector<OrderLine>& lines) {
  const auto different = [&] {
    return absl::AlreadyExistsError(
        absl::StrCat("order '", recorded.order_id, "' was already reserved with different lines (",
                     recorded.lines.size(), " line", recorded.lines.size() == 1 ? "" : "s",
                     recorded.released ? ", since released" : "", ")"));
  };
  if (recorded.lines.size() != lines.size()) return different();
  // Line order is not significant: compare both sides sorted by product id
  // (ids are unique within each side).
  std::vector<std::size_t> requested(lines.size());
  std::vector<std::size_t> then_order(lines.size());
  std::iota(requested.begin(), requested.end(), std::size_t{0});
  std::iota(then_order.begin(), then_order.end(), std::size_t{0});
  std::sort(requested.begin(), requested.end(), [&](std::size_t a, std::size_t b) {
    return lines[a].product_id < lines[b].product_id;
  });
  std::sort(then_order.begin(), then_order.end(), [&](std::size_t a, std::size_t b) {
    return recorded.lines[a].product_id < recorded.lines[b].product_id;
  });
  std::vector<ProductStock> result(lines.size());
  for (std::size_t k = 0; k < lines.size(); ++k) {
    const OrderLine& now = lines[requested[k]];
    const ReservationLine& then = recorded.lines[then_order[k]];
    if (now.product_id != then.product_id || now.quantity != then.quantity) return different();
    result[requested[k]] = {then.product_id, {then.remaining > 0, then.remaining}};
  }
  return result;
}

}  // namespace domain::inventory
