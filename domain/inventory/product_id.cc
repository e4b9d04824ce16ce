#include "domain/inventory/product_id.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace domain::inventory {
namespace {

// Decodes one UTF-8 sequence at `pos`. Returns its length, or 0 if the bytes
// there are not a valid, shortest-form encoding of a Unicode scalar value.
std::size_t DecodeUtf8(absl::string_view text, std::size_t pos, std::uint32_t* code_point) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[pos + i]); };
  const std::uint8_t lead = byte(0);
  std::size_t length;
  std::uint32_t value;
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    value = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07;
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    value = (value << 6) | (byte(i) & 0x3F);
  }
  const bool overlong = (length == 3 && value < 0x800) || (length == 4 && value < 0x10000);
  const bool surrogate = value >= 0xD800 && value <= 0xDFFF;
  if (overlong || surrogate || value > 0x10FFFF) return 0;
  *code_point = value;
  return length;
}

bool IsControl(std::uint32_t code_point) {
  return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F);
}

}  // namespace

absl::Status ValidateProductId(absl::string_view product_id) {
  if (product_id.empty()) return absl::InvalidArgumentError("product_id is empty");
  if (product_id.size() > kMaxProductIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("product_id is ", product_id.size(),
                                                   " bytes long; the limit is ", kMaxProductIdBytes,
                                                   " bytes"));
  }
  for (std::size_t pos = 0; pos < product_id.size();) {
    std::uint32_t code_point = 0;
    std::size_t length = DecodeUtf8(product_id, pos, &code_point);
    if (length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("product_id is not valid UTF-8 (bad byte at offset ", pos, ")"));
    }
    if (IsControl(code_point)) {
      return absl::InvalidArgumentError(
          absl::StrCat("product_id contains a non-printable control character U+",
                       absl::Hex(code_point, absl::kZeroPad4), " at byte offset ", pos));
    }
    pos += length;
  }
  return absl::OkStatus();
}

}  // namespace domain::inventory
