#include "domain/inventory/catalog.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "domain/inventory/inventory_store.h"
#include "domain/inventory/product_id.h"
#include "test/temp_dir.h"

namespace domain::inventory {
namespace {

using Catch::Matchers::Contains;

// "a=1;b=2;" — compact, and readable when a comparison fails.
std::string Dump(const std::vector<CatalogEntry>& entries) {
  std::string out;
  for (const CatalogEntry& e : entries) absl::StrAppend(&out, e.product_id, "=", e.quantity, ";");
  return out;
}

std::vector<CatalogEntry> ParseOk(const std::string& text) {
  absl::StatusOr<std::vector<CatalogEntry>> result = ParseCatalogCsv(text);
  INFO("status: " << result.status());
  REQUIRE(result.ok());
  return *result;
}

// Asserts parsing fails with INVALID_ARGUMENT naming `line` and containing
// each of `needles`.
void ExpectParseError(const std::string& text, int line,
                      std::initializer_list<std::string> needles = {}) {
  absl::StatusOr<std::vector<CatalogEntry>> result = ParseCatalogCsv(text);
  INFO("input: " << text);
  INFO("status: " << result.status());
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
  const std::string message(result.status().message());
  CHECK_THAT(message, Contains(absl::StrCat("line ", line, ":")));
  for (const std::string& needle : needles) CHECK_THAT(message, Contains(needle));
}

TEST_CASE("ParseCatalogCsv parses plain lines in order", "[catalog]") {
  CHECK(Dump(ParseOk("a,1\nb,2\nc,0\n")) == "a=1;b=2;c=0;");
  CHECK(Dump(ParseOk("a,1")) == "a=1;");  // no trailing newline
  CHECK(ParseOk("").empty());
}

TEST_CASE("ParseCatalogCsv skips header, comments and blank lines", "[catalog]") {
  const std::string text =
      "product_id,quantity\n"
      "# a comment\n"
      "\n"
      "   \n"
      "a,1\n"
      "  # an indented comment\n"
      "b,2\n"
      "\n";
  CHECK(Dump(ParseOk(text)) == "a=1;b=2;");
  CHECK(ParseOk("product_id,quantity\n").empty());
  CHECK(ParseOk("# only\n# comments\n\n").empty());
}

TEST_CASE("ParseCatalogCsv strips whitespace around lines and fields", "[catalog]") {
  CHECK(Dump(ParseOk("  a , 1  \n\tb,\t2\t\n")) == "a=1;b=2;");
  // Inner spaces are part of the id.
  CHECK(Dump(ParseOk("red shirt, 4\n")) == "red shirt=4;");
}

TEST_CASE("ParseCatalogCsv accepts CRLF line endings", "[catalog]") {
  CHECK(Dump(ParseOk("a,1\r\n")) == "a=1;");
  CHECK(Dump(ParseOk("product_id,quantity\r\na,1\r\n# c\r\n\r\nb,2\r\n")) == "a=1;b=2;");
}

TEST_CASE("ParseCatalogCsv accepts UTF-8 ids and boundary quantities", "[catalog]") {
  CHECK(Dump(ParseOk("caf\xC3\xA9,3\n\xF0\x9F\x93\xA6,0\n")) ==
        "caf\xC3\xA9=3;\xF0\x9F\x93\xA6=0;");
  CHECK(Dump(ParseOk("max,2147483647\n")) == "max=2147483647;");
  CHECK(Dump(ParseOk(std::string(128, 'x') + ",1\n")) == std::string(128, 'x') + "=1;");
}

TEST_CASE("ParseCatalogCsv reports a wrong field count with its line", "[catalog]") {
  ExpectParseError("a\n", 1, {"product_id,quantity"});
  ExpectParseError("a,1\nb\n", 2);
  ExpectParseError("a,1\nb,2,3\n", 2);
  ExpectParseError("a,1,\n", 1);
  // Comment and blank lines still count towards the line number.
  ExpectParseError("# header comment\n\na,1\nno-comma\n", 4);
  ExpectParseError("a,1\r\nb;2\r\n", 2);
}

TEST_CASE("ParseCatalogCsv rejects quoted fields with their line", "[catalog]") {
  ExpectParseError("\"abc\",1\n", 1, {"quoted", "\"abc\",1"});
  ExpectParseError("a,1\nb,\"2\"\n", 2, {"quoted"});
  ExpectParseError("a,1\n# comment\n\"b,c\",3\n", 3, {"quoted"});
  ExpectParseError("ab\"c,1\n", 1, {"quoted"});
  // A quoted header is not the header either.
  ExpectParseError("\"product_id\",\"quantity\"\na,1\n", 1, {"quoted"});
}

TEST_CASE("ParseCatalogCsv rejects bad quantities with their line", "[catalog]") {
  SECTION("not an integer") {
    ExpectParseError("a,abc\n", 1, {"quantity", "abc"});
    ExpectParseError("a,1\nb,1.5\n", 2, {"quantity"});
    ExpectParseError("a,1x\n", 1, {"quantity"});
    ExpectParseError("a,\n", 1, {"quantity"});
    ExpectParseError("a,  \n", 1, {"quantity"});
  }
  SECTION("negative") {
    ExpectParseError("a,-1\n", 1, {"quantity", "-1"});
    ExpectParseError("x,5\ny,-2147483648\n", 2, {"quantity"});
  }
  SECTION("greater than INT32_MAX") {
    ExpectParseError("a,2147483648\n", 1, {"quantity", "2147483647", "2147483648"});
    ExpectParseError("a,1\nb,4294967296\n", 2, {"quantity"});
    ExpectParseError("a,99999999999999999999999\n", 1, {"quantity"});
  }
}

TEST_CASE("ParseCatalogCsv rejects invalid ids with their line", "[catalog]") {
  ExpectParseError("a,1\n,5\n", 2, {"empty"});
  ExpectParseError("  ,5\n", 1, {"empty"});
  ExpectParseError("caf\xC3,1\n", 1, {"UTF-8"});
  ExpectParseError("ok,1\nbad\x01id,1\n", 2, {"control"});
  ExpectParseError("\xC2\x85,1\n", 1, {"control"});
  ExpectParseError(std::string(129, 'a') + ",1\n", 1, {"129", "128"});
}

TEST_CASE("ParseCatalogCsv rejects a duplicate id with its line", "[catalog]") {
  ExpectParseError("a,1\nb,2\na,3\n", 3, {"'a'", "twice"});
  // Duplicates are detected after whitespace stripping.
  ExpectParseError(" a,1\n\na ,2\n", 3, {"'a'"});
}

TEST_CASE("LoadCatalogFile on a missing path is NOT_FOUND", "[catalog]") {
  const testing_util::TempDir dir("catalog_test");
  const std::string missing = dir.Path("missing/catalog.csv");
  absl::StatusOr<std::vector<CatalogEntry>> result = LoadCatalogFile(missing);
  INFO("status: " << result.status());
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(result.status().message()), Contains(missing));
}

// std::ifstream opens a directory without error on Linux and reads nothing;
// that must not pass for an empty catalog.
TEST_CASE("LoadCatalogFile on a directory is NOT_FOUND", "[catalog]") {
  const testing_util::TempDir dir("catalog_test");
  absl::StatusOr<std::vector<CatalogEntry>> result = LoadCatalogFile(dir.path());
  INFO("status: " << result.status());
  CHECK(result.status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("ParseCatalogCsv accepts a byte-order mark and a header after comments", "[catalog]") {
  auto result = ParseCatalogCsv("\xEF\xBB\xBF# exported\nproduct_id,quantity\nproduct123,10\n");
  INFO("status: " << result.status());
  REQUIRE(result.ok());
  CHECK(Dump(*result) == "product123=10;");
  // Only the first data line may be the header; later it is a bad row.
  CHECK_FALSE(ParseCatalogCsv("a,1\nproduct_id,quantity\n").ok());
}

TEST_CASE("LoadCatalogFile reads and parses a file", "[catalog]") {
  const testing_util::TempDir dir("catalog_test");
  const std::string path = dir.WriteFile(
      "catalog.csv", "product_id,quantity\r\n# stock\r\nproduct123,10\r\ncaf\xC3\xA9,0\r\n");
  absl::StatusOr<std::vector<CatalogEntry>> result = LoadCatalogFile(path);
  INFO("status: " << result.status());
  REQUIRE(result.ok());
  CHECK(Dump(*result) == "product123=10;caf\xC3\xA9=0;");

  SECTION("the entries load into a store") {
    InventoryStore store;
    REQUIRE(store.Load(*result).ok());
    CHECK(store.size() == 2);
    CHECK(store.Get("product123").quantity == 10);
    CHECK(store.Get("product123").is_available);
    CHECK_FALSE(store.Get("caf\xC3\xA9").is_available);
  }
}

TEST_CASE("LoadCatalogFile reports parse errors with the path and line", "[catalog]") {
  const testing_util::TempDir dir("catalog_test");
  const std::string path = dir.WriteFile("catalog.csv", "a,1\nb,-5\n");
  absl::StatusOr<std::vector<CatalogEntry>> result = LoadCatalogFile(path);
  INFO("status: " << result.status());
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
  const std::string message(result.status().message());
  CHECK_THAT(message, Contains(path));
  CHECK_THAT(message, Contains("line 2"));
}

TEST_CASE("SyntheticCatalog(1000) is unique, valid, deterministic and in range", "[catalog]") {
  const std::vector<CatalogEntry> entries = SyntheticCatalog(1000);
  REQUIRE(entries.size() == 1000);

  std::set<std::string> ids;
  std::set<std::int32_t> distinct_quantities;
  int out_of_stock = 0;
  for (const CatalogEntry& e : entries) {
    ids.insert(e.product_id);
    CHECK(ValidateProductId(e.product_id).ok());
    CHECK(e.quantity >= 0);
    CHECK(e.quantity <= 999);
    distinct_quantities.insert(e.quantity);
    if (e.quantity == 0) ++out_of_stock;
  }
  CHECK(ids.size() == 1000);
  CHECK(entries.front().product_id == "sku-00000000");
  CHECK(entries.back().product_id == "sku-00000999");
  // Spread out, and mostly in stock ("about one in a thousand" out of stock).
  CHECK(distinct_quantities.size() > 100);
  CHECK(out_of_stock < 10);

  CHECK(Dump(SyntheticCatalog(1000)) == Dump(entries));
  // A smaller catalog is a prefix of a larger one.
  const std::vector<CatalogEntry> small = SyntheticCatalog(10);
  REQUIRE(small.size() == 10);
  CHECK(Dump(small) == Dump({entries.begin(), entries.begin() + 10}));

  InventoryStore store;
  REQUIRE(store.Load(entries).ok());
  CHECK(store.size() == 1000);
}

TEST_CASE("SyntheticCatalog of zero or negative count is empty", "[catalog]") {
  CHECK(SyntheticCatalog(0).empty());
  CHECK(SyntheticCatalog(-3).empty());
}

TEST_CASE("DefaultCatalog has product123 with 10", "[catalog]") {
  const std::vector<CatalogEntry> entries = DefaultCatalog();
  CHECK(Dump(entries) == "product123=10;");
  InventoryStore store;
  REQUIRE(store.Load(entries).ok());
  Availability a = store.Get("product123");
  CHECK(a.is_available);
  CHECK(a.quantity == 10);
}

}  // namespace
}  // namespace domain::inventory
