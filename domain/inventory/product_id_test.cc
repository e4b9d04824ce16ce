#include "domain/inventory/product_id.h"

#include <catch2/catch.hpp>
#include <string>

#include "absl/status/status.h"

namespace domain::inventory {
namespace {

using Catch::Matchers::Contains;

// Asserts `id` is rejected with INVALID_ARGUMENT and a message containing
// every string in `needles` (case-insensitively).
void ExpectInvalid(const std::string& id, std::initializer_list<std::string> needles) {
  absl::Status status = ValidateProductId(id);
  INFO("status: " << status);
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  const std::string message(status.message());
  for (const std::string& needle : needles) {
    CHECK_THAT(message, Contains(needle, Catch::CaseSensitive::No));
  }
}

void ExpectOk(const std::string& id) {
  absl::Status status = ValidateProductId(id);
  INFO("status: " << status);
  CHECK(status.ok());
}

TEST_CASE("ValidateProductId accepts plain ASCII ids", "[product_id]") {
  ExpectOk("product123");
  ExpectOk("a");
  ExpectOk("sku-00000001");
  ExpectOk("with space and punctuation !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
}

TEST_CASE("ValidateProductId accepts multi-byte UTF-8", "[product_id]") {
  ExpectOk("caf\xC3\xA9");  // café, 2-byte sequence
  ExpectOk(
      "\xE2\x82\xAC"
      "100");                                     // €100, 3-byte sequence
  ExpectOk("\xF0\x9F\x93\xA6");                   // 📦, 4-byte sequence (emoji)
  ExpectOk("box-\xF0\x9F\x93\xA6-\xE6\x97\xA5");  // mixed widths
  ExpectOk("\xC2\xA0");                           // U+00A0, first code point after the C1 block
  ExpectOk("\xF4\x8F\xBF\xBF");                   // U+10FFFF, largest scalar value
  ExpectOk("\xEE\x80\x80");                       // U+E000, first code point after surrogates
}

TEST_CASE("ValidateProductId length limit is 128 bytes", "[product_id]") {
  REQUIRE(kMaxProductIdBytes == 128);

  SECTION("exactly 128 ASCII bytes is ok") { ExpectOk(std::string(128, 'a')); }

  SECTION("exactly 128 bytes of 2-byte characters is ok") {
    std::string id;
    for (int i = 0; i < 64; ++i) id += "\xC3\xA9";
    REQUIRE(id.size() == 128);
    ExpectOk(id);
  }

  SECTION("129 bytes is rejected naming both sizes") {
    ExpectInvalid(std::string(129, 'a'), {"129", "128"});
  }

  SECTION("limit counts bytes, not characters") {
    // 127 ASCII bytes + a 2-byte character = 128 characters but 129 bytes.
    std::string id = std::string(127, 'a') + "\xC3\xA9";
    REQUIRE(id.size() == 129);
    ExpectInvalid(id, {"129", "128"});
  }

  SECTION("much longer ids are rejected") { ExpectInvalid(std::string(10000, 'x'), {"10000"}); }
}

TEST_CASE("ValidateProductId rejects the empty id", "[product_id]") {
  ExpectInvalid("", {"empty"});
}

TEST_CASE("ValidateProductId rejects invalid UTF-8", "[product_id]") {
  SECTION("lone continuation byte at start") { ExpectInvalid("\x80", {"UTF-8", "offset 0"}); }
  SECTION("lone continuation byte in the middle") {
    ExpectInvalid(
        "ab\x80"
        "cd",
        {"UTF-8", "offset 2"});
  }
  SECTION("truncated 2-byte sequence at end") { ExpectInvalid("caf\xC3", {"UTF-8", "offset 3"}); }
  SECTION("truncated 3-byte sequence at end") { ExpectInvalid("x\xE2\x82", {"UTF-8", "offset 1"}); }
  SECTION("truncated 4-byte sequence at end") {
    ExpectInvalid("\xF0\x9F\x93", {"UTF-8", "offset 0"});
  }
  SECTION("lead byte followed by a non-continuation byte") {
    ExpectInvalid(
        "\xC3"
        "a",
        {"UTF-8", "offset 0"});
  }
  SECTION("overlong 2-byte encoding of '/' (C0 AF)") {
    ExpectInvalid("\xC0\xAF", {"UTF-8", "offset 0"});
  }
  SECTION("overlong 2-byte encoding with C1 lead") { ExpectInvalid("\xC1\xBF", {"UTF-8"}); }
  SECTION("overlong 3-byte encoding (E0 80 AF)") { ExpectInvalid("\xE0\x80\xAF", {"UTF-8"}); }
  SECTION("overlong 4-byte encoding (F0 80 80 AF)") {
    ExpectInvalid("\xF0\x80\x80\xAF", {"UTF-8"});
  }
  SECTION("UTF-16 high surrogate U+D800 (ED A0 80)") {
    ExpectInvalid("id\xED\xA0\x80", {"UTF-8", "offset 2"});
  }
  SECTION("UTF-16 low surrogate U+DFFF (ED BF BF)") { ExpectInvalid("\xED\xBF\xBF", {"UTF-8"}); }
  SECTION("code point above U+10FFFF (F4 90 80 80)") {
    ExpectInvalid("\xF4\x90\x80\x80", {"UTF-8", "offset 0"});
  }
  SECTION("bytes that never appear in UTF-8") {
    ExpectInvalid("\xF5\x80\x80\x80", {"UTF-8"});
    ExpectInvalid("\xFE", {"UTF-8"});
    ExpectInvalid("\xFF", {"UTF-8"});
  }
}

TEST_CASE("ValidateProductId rejects control characters", "[product_id]") {
  SECTION("C0 control \\x01") {
    ExpectInvalid(
        "a\x01"
        "b",
        {"control", "U+0001", "offset 1"});
  }
  SECTION("newline") { ExpectInvalid("line\nbreak", {"control", "U+000A", "offset 4"}); }
  SECTION("carriage return") { ExpectInvalid("a\r", {"control", "U+000D"}); }
  SECTION("tab") { ExpectInvalid("\ta", {"control", "offset 0"}); }
  SECTION("NUL byte") { ExpectInvalid(std::string("a\0b", 3), {"control", "U+0000"}); }
  SECTION("unit separator \\x1F") { ExpectInvalid("\x1F", {"control", "U+001F"}); }
  SECTION("DEL \\x7F") { ExpectInvalid("abc\x7F", {"control", "U+007F", "offset 3"}); }
  SECTION("C1 control U+0085 (C2 85)") {
    ExpectInvalid("x\xC2\x85y", {"control", "U+0085", "offset 1"});
  }
  SECTION("C1 control U+0080 (C2 80)") { ExpectInvalid("\xC2\x80", {"control", "U+0080"}); }
  SECTION("C1 control U+009F (C2 9F)") { ExpectInvalid("\xC2\x9F", {"control", "U+009F"}); }
}

}  // namespace
}  // namespace domain::inventory
