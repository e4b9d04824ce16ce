// What the ProductService sells: names and prices, loaded once at start and
// read-only afterwards (so look-ups take no lock). No gRPC types.
#ifndef DOMAIN_PRODUCT_PRODUCT_CATALOG_H_
#define DOMAIN_PRODUCT_PRODUCT_CATALOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace domain::product {

struct ProductInfo {
  std::string product_id;
  std::string name;
  std::int64_t price_cents = 0;
};

class ProductCatalog {
 public:
  // Rejects an invalid id (inventory's id rules), an empty name, a negative
  // price or a repeated id with INVALID_ARGUMENT naming the product.
  static absl::StatusOr<ProductCatalog> Create(std::vector<ProductInfo> products);

  // Null if unknown. The pointer stays valid for the catalog's life.
  const ProductInfo* Find(absl::string_view product_id) const;
  std::size_t size() const { return products_.size(); }

 private:
  absl::flat_hash_map<std::string, ProductInfo> products_;
};

// Parses `product_id,name,price_cents` lines: blank lines and '#' comments
// are skipped, a UTF-8 byte-order mark and a first-line header
// `product_id,name,price_cents` are allowed. The name is everything between
// the first and the last comma, so it may itself contain commas. Errors are
// INVALID_ARGUMENT naming the line.
absl::StatusOr<std::vector<ProductInfo>> ParseProductCatalogCsv(absl::string_view text);

// Reads and parses a CSV file; NOT_FOUND if it cannot be read.
absl::StatusOr<std::vector<ProductInfo>> LoadProductCatalogFile(const std::string& path);

// The seed example's product: product123.
std::vector<ProductInfo> DefaultProductCatalog();

// `count` products sku-00000000, ... matching the inventory's synthetic
// catalog (inventory_server --synthetic_products), with made-up names and
// prices, for load tests.
std::vector<ProductInfo> SyntheticProductCatalog(int count);

}  // namespace domain::product

#endif  // DOMAIN_PRODUCT_PRODUCT_CATALOG_H_
