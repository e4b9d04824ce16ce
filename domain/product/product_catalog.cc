#include "domain/product/product_catalog.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "domain/inventory/catalog.h"
#include "domain/inventory/product_id.h"

namespace domain::product {

absl::StatusOr<ProductCatalog> ProductCatalog::Create(std::vector<ProductInfo> products) {
  ProductCatalog catalog;
  catalog.products_.reserve(products.size());
  for (ProductInfo& info : products) {
    if (absl::Status valid = domain::inventory::ValidateProductId(info.product_id); !valid.ok()) {
      return valid;
    }
    if (info.name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("product '", info.product_id, "' has an empty name"));
    }
    if (info.price_cents < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("product '", info.product_id, "' has a negative price: ", info.price_cents));
    }
    std::string id = info.product_id;
    if (!catalog.products_.try_emplace(std::move(id), std::move(info)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("product '", info.product_id, "' is listed twice"));
    }
  }
  return catalog;
}

const ProductInfo* ProductCatalog::Find(absl::string_view product_id) const {
  auto it = products_.find(product_id);
  return it == products_.end() ? nullptr : &it->second;
}

absl::StatusOr<std::vector<ProductInfo>> ParseProductCatalogCsv(absl::string_view text) {
  std::vector<ProductInfo> products;
  absl::Status parsed = domain::inventory::ForEachCsvRecord(
      text, "product_id,name,price_cents",
      [&](int line_number, absl::string_view line) -> absl::Status {
        const std::size_t first = line.find(',');
        const std::size_t last = line.rfind(',');
        if (first == absl::string_view::npos || first == last) {
          return absl::InvalidArgumentError(
              absl::StrCat("product catalog line ", line_number,
                           ": expected 'product_id,name,price_cents', got '", line, "'"));
        }
        ProductInfo info;
        info.product_id = std::string(absl::StripAsciiWhitespace(line.substr(0, first)));
        info.name =
            std::string(absl::StripAsciiWhitespace(line.substr(first + 1, last - first - 1)));
        absl::string_view price = absl::StripAsciiWhitespace(line.substr(last + 1));
        if (!absl::SimpleAtoi(price, &info.price_cents) || info.price_cents < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("product catalog line ", line_number,
                           ": price_cents must be an integer >= 0, got '", price, "'"));
        }
        products.push_back(std::move(info));
        return absl::OkStatus();
      });
  if (!parsed.ok()) return parsed;
  // Validates ids, names and repeats, naming the line through the product.
  if (auto catalog = ProductCatalog::Create(products); !catalog.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("product catalog: ", catalog.status().message()));
  }
  return products;
}

absl::StatusOr<std::vector<ProductInfo>> LoadProductCatalogFile(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::NotFoundError(
        absl::StrCat("product catalog '", path, "' is not a readable regular file"));
  }
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  auto products = ParseProductCatalogCsv(contents.str());
  if (!products.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", products.status().message()));
  }
  return products;
}

std::vector<ProductInfo> DefaultProductCatalog() {
  return {{"product123", "Seed example product", 1999}};
}

std::vector<ProductInfo> SyntheticProductCatalog(int count) {
  std::vector<ProductInfo> products;
  products.reserve(count > 0 ? count : 0);
  for (int i = 0; i < count; ++i) {
    products.push_back({absl::StrFormat("sku-%08d", i), absl::StrFormat("Synthetic product %d", i),
                        100 + (static_cast<std::int64_t>(i) * 7919) % 100000});
  }
  return products;
}

}  // namespace domain::product
