#include "server/host/command_line.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

// Flags defined outside every folder the servers use: --help must list them
// all the same, since nothing registers project folders.
ABSL_FLAG(bool, cl_test_switch, true, "A bool flag of this test.");
ABSL_FLAG(std::string, cl_test_name, "some-name", "A string flag of this test.");
ABSL_FLAG(bool, no_cl_test_literal, false, "A flag whose own name starts with no_.");
ABSL_FLAG(int, cl_test_long_help, 7,
          "A flag with a help text long enough that it has to be wrapped over several lines of "
          "the listing, none of them wider than eighty columns, every continuation indented.");

namespace server::host {
namespace {

std::string Normalized(std::string argument) {
  std::vector<char> buffer(argument.begin(), argument.end());
  buffer.push_back('\0');
  NormalizeFlagArgument(buffer.data());
  return std::string(buffer.data());
}

TEST_CASE("dashes in a flag name become underscores, values stay as they are") {
  CHECK(Normalized("--cl-test-switch") == "--cl_test_switch");
  CHECK(Normalized("--cl-test-name=a-b-c") == "--cl_test_name=a-b-c");
  CHECK(Normalized("--cl_test_name=x") == "--cl_test_name=x");
  CHECK(Normalized("--no-such-flag=1") == "--no_such_flag=1");
  // Not a flag: left alone.
  CHECK(Normalized("value-with-dashes") == "value-with-dashes");
  CHECK(Normalized("-") == "-");
  // One dash is a flag too (abseil takes it; grpc_health_probe's users write it).
  CHECK(Normalized("-x-y") == "-x_y");
  CHECK(Normalized("-connect-timeout=250ms") == "-connect_timeout=250ms");
  CHECK(Normalized("--") == "--");
}

TEST_CASE("a negated bool flag may be spelled with dashes or underscores") {
  CHECK(Normalized("--no-cl-test-switch") == "--nocl_test_switch");
  CHECK(Normalized("--no_cl_test_switch") == "--nocl_test_switch");
  CHECK(Normalized("--no-cl_test-switch") == "--nocl_test_switch");
  // abseil's own spelling is kept.
  CHECK(Normalized("--nocl-test-switch") == "--nocl_test_switch");
  // Only bool flags have a negated form: abseil then reports the unknown name.
  CHECK(Normalized("--no-cl-test-name") == "--no_cl_test_name");
  CHECK(Normalized("--no-such-thing") == "--no_such_thing");
  // A flag that is itself called no_... is that flag, not a negation.
  CHECK(Normalized("--no-cl-test-literal") == "--no_cl_test_literal");
}

TEST_CASE("library flags are recognised by abseil's source paths") {
  CHECK(IsLibraryFlagFile("absl/flags/parse.cc"));
  CHECK(IsLibraryFlagFile("./absl/flags/internal/usage.cc"));
  CHECK(IsLibraryFlagFile("/build/abseil-cpp-20220623/absl/flags/parse.cc"));
  CHECK_FALSE(IsLibraryFlagFile("storage/durable_journal.cc"));
  CHECK_FALSE(IsLibraryFlagFile("../server/host/server_flags.cc"));
  CHECK_FALSE(IsLibraryFlagFile("/home/user/my_service/main.cc"));
}

TEST_CASE("the help listing has this test's flags, with defaults, and none of abseil's") {
  const std::string help = FlagsHelp(/*full=*/false);
  INFO(help);
  CHECK(absl::StrContains(help, "Flags from server/host/command_line_test.cc:"));
  CHECK(
      absl::StrContains(help, "    --cl_test_switch (A bool flag of this test.); default: true;"));
  CHECK(absl::StrContains(help,
                          "    --cl_test_name (A string flag of this test.); default: "
                          "\"some-name\";"));
  CHECK(absl::StrContains(help, "--no_cl_test_literal ("));
  CHECK_FALSE(absl::StrContains(help, "--flagfile"));
  CHECK_FALSE(absl::StrContains(help, "--tryfromenv"));
  CHECK_FALSE(absl::StrContains(help, "absl/"));
}

TEST_CASE("the full help listing adds abseil's own flags") {
  const std::string help = FlagsHelp(/*full=*/true);
  CHECK(absl::StrContains(help, "--flagfile ("));
  CHECK(absl::StrContains(help, "--cl_test_switch ("));
}

TEST_CASE("the listing is wrapped at 80 columns") {
  const std::string help = FlagsHelp(/*full=*/false);
  std::vector<std::string> lines = absl::StrSplit(help, '\n');
  bool seen_long_help = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    INFO(lines[i]);
    CHECK(lines[i].size() <= 80);
    if (absl::StartsWith(lines[i], "    --cl_test_long_help (")) {
      seen_long_help = true;
      REQUIRE(i + 1 < lines.size());
      CHECK(absl::StartsWith(lines[i + 1], "      "));
      CHECK(absl::StrContains(help, "default: 7;"));
    }
  }
  CHECK(seen_long_help);
}

}  // namespace
}  // namespace server::host
