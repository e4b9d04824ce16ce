#include "server/host/command_line.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/version.h"

namespace server::host {
namespace {

#ifndef CQENGINE_SOURCE_ROOT
#define CQENGINE_SOURCE_ROOT ""
#endif

// Paths as the compiler saw them, less what abseil already strips (a leading
// "/" or "./"): "absl/flags/parse.cc"; "../server/host/server_flags.cc" (ccache's
// base_dir makes ours relative); "check/work/main/server/host/server_flags.cc" (the
// absolute path of this tree) all lose the prefix up to the tree or library.
std::string NormalizeFilename(absl::string_view file) {
  absl::string_view root = CQENGINE_SOURCE_ROOT;
  if (!root.empty() && (absl::ConsumePrefix(&file, root) ||
                        absl::ConsumePrefix(&file, absl::StripPrefix(root, "/")))) {
    return std::string(file);
  }
  while (absl::ConsumePrefix(&file, "./") || absl::ConsumePrefix(&file, "../")) {
  }
  return std::string(file);
}

enum class Request { kNone, kHelp, kHelpFull, kVersion };

// What the command line asks for before any flag is parsed. Only arguments
// before a "--" terminator are flags.
Request UsageRequest(int argc, char** argv) {
  Request request = Request::kNone;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "-h") arg = "--help";
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) continue;
    if (arg == "help" || arg == "helpshort" || arg == "helppackage") {
      if (request != Request::kHelpFull) request = Request::kHelp;
    } else if (arg == "helpfull") {
      request = Request::kHelpFull;
    } else if (arg == "version" && request == Request::kNone) {
      request = Request::kVersion;
    }
  }
  return request;
}

// Appends `text` word-wrapped: lines of at most `width` columns (longer
// words stand alone), continuation lines indented by `indent` spaces.
void AppendWrapped(std::string& out, absl::string_view text, std::size_t first_column,
                   std::size_t indent, std::size_t width) {
  std::size_t column = first_column;
  bool line_start = true;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line_start && column + 1 + word.size() > width) {
      absl::StrAppend(&out, "\n", std::string(indent, ' '));
      column = indent;
      line_start = true;
    }
    if (!line_start) {
      out.push_back(' ');
      ++column;
    }
    absl::StrAppend(&out, word);
    column += word.size();
    line_start = false;
  }
}

}  // namespace

bool IsLibraryFlagFile(absl::string_view file) {
  // abseil's own flags (--flagfile, --fromenv, --tryfromenv, --undefok, the
  // --help family) are defined under absl/flags/. gRPC 1.51 defines none.
  const std::string normalized = NormalizeFilename(file);
  return absl::StartsWith(normalized, "absl/") || absl::StrContains(normalized, "/absl/flags/");
}

void NormalizeFlagArgument(char* argument) {
  // "--name" or "-name" (abseil takes both; grpc_health_probe's users write
  // one dash), not "-" or "--" alone.
  const std::size_t dashes = std::strncmp(argument, "--", 2) == 0 ? 2 : argument[0] == '-' ? 1 : 0;
  if (dashes == 0 || argument[dashes] == '\0') return;
  char* name = argument + dashes;
  char* end = name;
  for (; *end != '\0' && *end != '='; ++end) {
    if (*end == '-') *end = '_';
  }
  const absl::string_view spelled(name, static_cast<std::size_t>(end - name));
  if (!absl::StartsWith(spelled, "no_") || absl::FindCommandLineFlag(spelled) != nullptr) return;
  const absl::CommandLineFlag* negated = absl::FindCommandLineFlag(spelled.substr(3));
  if (negated == nullptr || !negated->IsOfType<bool>()) return;
  // "no_foo..." -> "nofoo...": drop the underscore, shifting the rest
  // (the '=' part and the terminator included) one to the left.
  std::memmove(name + 2, name + 3, std::strlen(name + 3) + 1);
}

std::string FlagsHelp(bool full) {
  std::map<std::string, std::vector<const absl::CommandLineFlag*>> by_file;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (flag->IsRetired()) continue;
    std::string file = NormalizeFilename(flag->Filename());
    if (!full && IsLibraryFlagFile(file)) continue;
    by_file[std::move(file)].push_back(flag);
  }
  std::string out;
  for (auto& [file, flags] : by_file) {
    std::sort(flags.begin(), flags.end(),
              [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
    absl::StrAppend(&out, "\n  Flags from ", file, ":\n");
    for (const absl::CommandLineFlag* flag : flags) {
      const std::string value = flag->IsOfType<std::string>()
                                    ? absl::StrCat("\"", flag->DefaultValue(), "\"")
                                    : flag->DefaultValue();
      const std::string entry =
          absl::StrCat("--", flag->Name(), " (", flag->Help(), "); default: ", value, ";");
      out += "    ";
      AppendWrapped(out, entry, 4, 6, 80);
      out += "\n";
    }
  }
  return out;
}

std::vector<char*> ParseCommandLine(int argc, char** argv, const CommandLineOptions& options) {
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) { return !IsLibraryFlagFile(file); };
  config.contains_helpshort_flags = config.contains_help_flags;
  config.normalize_filename = NormalizeFilename;
  const std::string version = absl::StrCat(options.program, " ", engine::kVersion, "\n");
  config.version_string = [version] { return version; };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(options.usage);

  switch (UsageRequest(argc, argv)) {
    case Request::kNone:
      break;
    case Request::kHelp:
    case Request::kHelpFull: {
      const std::string help =
          absl::StrCat(options.program, ": ", options.usage, "\n",
                       FlagsHelp(UsageRequest(argc, argv) == Request::kHelpFull));
      std::fwrite(help.data(), 1, help.size(), stdout);
      std::fflush(stdout);
      std::exit(0);
    }
    case Request::kVersion:
      std::fwrite(version.data(), 1, version.size(), stdout);
      std::fflush(stdout);
      std::exit(0);
  }

  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;
    NormalizeFlagArgument(argv[i]);
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (!options.allow_positional && positional.size() > 1) {
    std::fprintf(stderr, "%s: unexpected argument '%s' (all options are --flag=value)\n",
                 options.program.c_str(), positional[1]);
    std::exit(1);
  }
  return positional;
}

}  // namespace server::host
