// Rules for product identifiers, shared by every entry point (RPCs, CSV).
#ifndef DOMAIN_INVENTORY_PRODUCT_ID_H_
#define DOMAIN_INVENTORY_PRODUCT_ID_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "domain/inventory/limits.h"

namespace domain::inventory {

// OK for a product id of 1..kMaxProductIdBytes (128) bytes of valid UTF-8 with no control
// characters (C0, DEL, C1). Otherwise INVALID_ARGUMENT with a message that
// names the problem and, where it helps, the byte offset.
absl::Status ValidateProductId(absl::string_view product_id);

}  // namespace domain::inventory

#endif  // DOMAIN_INVENTORY_PRODUCT_ID_H_
