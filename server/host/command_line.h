// The command line of every binary of this project (the servers, health_probe,
// inventory_bench), on abseil flags and only abseil's public API:
//
//   - `--some-flag` and `--some_flag` are the same flag, and so are the
//     negated spellings of a bool flag: `--no-some-flag`, `--no_some_flag`
//     and abseil's own `--nosome_flag`;
//   - `--help` (also `-h`, `--helpshort`, `--helppackage`) prints the usage
//     message and every project flag with its default, `--helpfull` adds
//     abseil's own flags; `--version` prints "PROGRAM VERSION" (the project
//     version, engine::kVersion). All three go to stdout and exit 0: asking
//     for help is not an error;
//   - an unknown flag or a bad value prints abseil's error and exits 1, and so
//     does a positional argument when none is allowed.
//
// A "project flag" is any flag not defined by the libraries underneath
// (abseil and gRPC, recognised by their source paths), so a flag defined in a
// new folder, or in a program that builds on this one, shows up in --help
// without being registered anywhere.
#ifndef SERVER_HOST_COMMAND_LINE_H_
#define SERVER_HOST_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace server::host {

struct CommandLineOptions {
  // The program's name, as --version and error messages print it.
  std::string program;
  // What --help prints above the flags, e.g. what the program does and a
  // "Usage: ..." line.
  std::string usage;
  // If false, a positional argument is an error (exit 1).
  bool allow_positional = false;
};

// Parses argv as described above; may exit the process (0 after help or
// version, 1 on a bad command line). Rewrites argv's flag names in place.
// Returns argv[0] followed by the positional arguments.
std::vector<char*> ParseCommandLine(int argc, char** argv, const CommandLineOptions& options);

// Rewrites one argument's flag name to the spelling abseil knows: dashes to
// underscores (up to the '='), and a negated bool `--no_foo` to `--nofoo`
// when there is a bool flag `foo` and no flag `no_foo`. "-name" (one dash,
// which abseil also takes) is rewritten the same way; arguments that do not
// start with a dash, and "-" and "--" alone, are left alone. The result is
// never longer.
void NormalizeFlagArgument(char* argument);

// True if flags defined in `file` belong to a library underneath (abseil,
// gRPC), not to the project: what --help leaves to --helpfull.
bool IsLibraryFlagFile(absl::string_view file);

// The flag listing --help (full = false) or --helpfull (full = true) prints
// after the usage message: flags grouped by the file that defines them,
// files and flags in name order, each as
//     --name (help text, wrapped at 80 columns); default: VALUE;
// with string values in double quotes. Retired flags are left out.
std::string FlagsHelp(bool full);

}  // namespace server::host

#endif  // SERVER_HOST_COMMAND_LINE_H_
