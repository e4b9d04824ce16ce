#include "domain/inventory/catalog.h"

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "domain/inventory/product_id.h"

namespace domain::inventory {

absl::Status ForEachCsvRecord(
    absl::string_view text, absl::string_view header,
    absl::FunctionRef<absl::Status(int line_number, absl::string_view line)> record) {
  int line_number = 0;
  bool header_allowed = true;
  // Spreadsheets often save CSV with a UTF-8 byte-order mark.
  absl::ConsumePrefix(&text, "\xEF\xBB\xBF");
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    if (std::exchange(header_allowed, false) && line == header) continue;
    if (absl::Status status = record(line_number, line); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CatalogEntry>> ParseCatalogCsv(absl::string_view text) {
  std::vector<CatalogEntry> entries;
  absl::flat_hash_set<std::string> seen;
  absl::Status parsed = ForEachCsvRecord(
      text, "product_id,quantity", [&](int line_number, absl::string_view line) -> absl::Status {
        // Without this, "abc",1 would load the id "abc" with its quotes: a
        // spreadsheet's quoting is refused rather than half understood.
        if (absl::StrContains(line, '"')) {
          return absl::InvalidArgumentError(absl::StrCat(
              "catalog line ", line_number,
              ": quoted CSV fields are not supported (write the id and quantity without '\"'), "
              "got '",
              line, "'"));
        }
        std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
        if (fields.size() != 2) {
          return absl::InvalidArgumentError(absl::StrCat(
              "catalog line ", line_number, ": expected 'product_id,quantity', got '", line, "'"));
        }
        absl::string_view id = absl::StripAsciiWhitespace(fields[0]);
        if (absl::Status valid = ValidateProductId(id); !valid.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("catalog line ", line_number, ": ", valid.message()));
        }
        std::int64_t quantity = 0;
        if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(fields[1]), &quantity) || quantity < 0 ||
            quantity > std::numeric_limits<std::int32_t>::max()) {
          return absl::InvalidArgumentError(
              absl::StrCat("catalog line ", line_number, ": quantity must be an integer in [0, ",
                           std::numeric_limits<std::int32_t>::max(), "], got '", fields[1], "'"));
        }
        if (!seen.insert(std::string(id)).second) {
          return absl::InvalidArgumentError(
              absl::StrCat("catalog line ", line_number, ": product '", id, "' is listed twice"));
        }
        entries.push_back({std::string(id), static_cast<std::int32_t>(quantity)});
        return absl::OkStatus();
      });
  if (!parsed.ok()) return parsed;
  return entries;
}

absl::StatusOr<std::vector<CatalogEntry>> LoadCatalogFile(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::NotFoundError(absl::StrCat("catalog '", path, "' is not a readable regular file"));
  }
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  if (!file && !file.eof()) {
    return absl::NotFoundError(absl::StrCat("cannot read catalog file '", path, "'"));
  }
  auto entries = ParseCatalogCsv(contents.str());
  if (!entries.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", entries.status().message()));
  }
  return entries;
}

std::vector<CatalogEntry> SyntheticCatalog(int count) {
  std::vector<CatalogEntry> entries;
  entries.reserve(count > 0 ? count : 0);
  for (int i = 0; i < count; ++i) {
    // A multiplicative hash spreads quantities without a random generator,
    // so two runs with the same count serve the same data.
    std::uint32_t mixed = static_cast<std::uint32_t>(i) * 2654435761u;
    entries.push_back({absl::StrFormat("sku-%08d", i), static_cast<std::int32_t>(mixed % 1000)});
  }
  return entries;
}

std::vector<CatalogEntry> DefaultCatalog() { return {{"product123", 10}}; }

}  // namespace domain::inventory
