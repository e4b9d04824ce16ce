// Where the initial stock comes from: a CSV file or a synthetic catalog.
#ifndef DOMAIN_INVENTORY_CATALOG_H_
#define DOMAIN_INVENTORY_CATALOG_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "domain/inventory/inventory_store.h"

namespace domain::inventory {

// Walks the records of a CSV text as every catalog in this project is
// written: a leading UTF-8 byte-order mark is ignored, blank lines and lines
// starting with '#' are skipped, and so is the first other line if it equals
// `header`. Calls `record` with the 1-based line number and the line
// (surrounding whitespace removed) for each remaining line, and returns the
// first error it returns.
absl::Status ForEachCsvRecord(
    absl::string_view text, absl::string_view header,
    absl::FunctionRef<absl::Status(int line_number, absl::string_view line)> record);

// Parses `product_id,quantity` lines. Blank lines and lines starting with '#'
// are skipped; a leading UTF-8 byte-order mark is ignored; the first other
// line may be the header `product_id,quantity`.
// Every id is validated, quantities must be integers in [0, 2^31-1], and a
// repeated id is an error. CSV quoting is not supported: a line with a '"'
// is an error (an id cannot contain one). Errors are INVALID_ARGUMENT naming
// the line.
absl::StatusOr<std::vector<CatalogEntry>> ParseCatalogCsv(absl::string_view text);

// Reads and parses a CSV file; NOT_FOUND if it is not a readable regular file.
absl::StatusOr<std::vector<CatalogEntry>> LoadCatalogFile(const std::string& path);

// `count` products named sku-00000000, sku-00000001, ... with quantities
// spread deterministically over 0..999 (about one in a thousand out of stock).
std::vector<CatalogEntry> SyntheticCatalog(int count);

// The catalog used when no flag says otherwise: the seed example's product.
std::vector<CatalogEntry> DefaultCatalog();

}  // namespace domain::inventory

#endif  // DOMAIN_INVENTORY_CATALOG_H_
