#include "domain/product/product_catalog.h"

#include <catch2/catch.hpp>

namespace domain::product {
namespace {

TEST_CASE("product catalog CSV: header, comments, BOM, commas in names") {
  auto products = ParseProductCatalogCsv(
      "\xEF\xBB\xBFproduct_id,name,price_cents\n# comment\n\nproduct123, Widget, 1999\n"
      "p2,Nuts, bolts and washers,5\n");
  REQUIRE(products.ok());
  REQUIRE(products->size() == 2);
  CHECK((*products)[0].product_id == "product123");
  CHECK((*products)[0].name == "Widget");
  CHECK((*products)[0].price_cents == 1999);
  CHECK((*products)[1].name == "Nuts, bolts and washers");
}

TEST_CASE("product catalog CSV errors name the line or the product") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"p1,Widget\n", "line 1"},      {"p1,Widget,-1\n", "line 1"},
      {"p1,Widget,lots\n", "line 1"}, {"p1,Widget,1\np1,Other,2\n", "'p1' is listed twice"},
      {"p1,,1\n", "empty name"},      {",Widget,1\n", "product_id"},
  };
  for (const auto& [text, message] : cases) {
    CAPTURE(text);
    auto products = ParseProductCatalogCsv(text);
    REQUIRE_FALSE(products.ok());
    CHECK(products.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(products.status().message()), Catch::Contains(message));
  }
  CHECK(LoadProductCatalogFile("/nonexistent/catalog.csv").status().code() ==
        absl::StatusCode::kNotFound);
}

TEST_CASE("catalog look-ups; the default and synthetic catalogs") {
  auto catalog = ProductCatalog::Create(DefaultProductCatalog());
  REQUIRE(catalog.ok());
  REQUIRE(catalog->Find("product123") != nullptr);
  CHECK(catalog->Find("product123")->price_cents > 0);
  CHECK(catalog->Find("nope") == nullptr);
  auto synthetic = ProductCatalog::Create(SyntheticProductCatalog(1000));
  REQUIRE(synthetic.ok());
  CHECK(synthetic->size() == 1000);
  CHECK(synthetic->Find("sku-00000999") != nullptr);
}

}  // namespace
}  // namespace domain::product
