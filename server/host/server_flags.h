// Command-line flags shared by every server binary, and the start-up glue
// that turns them into options. Each binary adds its own flags (--listen with
// its own default, data sources) in its *_main.cc.
#ifndef SERVER_HOST_SERVER_FLAGS_H_
#define SERVER_HOST_SERVER_FLAGS_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/host/server_host.h"

ABSL_DECLARE_FLAG(int, completion_queues);
ABSL_DECLARE_FLAG(int, requests_per_method);
ABSL_DECLARE_FLAG(absl::Duration, drain_deadline);
ABSL_DECLARE_FLAG(bool, reflection);
ABSL_DECLARE_FLAG(std::string, log_level);

namespace server::host {

// Parses argv as every binary of the project does (command_line.h): both
// spellings of a flag, --help listing every project flag with its default,
// --version, exit 1 on an unknown flag, a bad value or a positional
// argument. `program` names the binary in messages. Returns argv[0].
std::vector<char*> ParseServerFlags(int argc, char** argv, const char* program, const char* usage);

// Reads the shared flags and applies the process-wide ones (log level,
// abseil Mutex deadlock detection). INVALID_ARGUMENT names the
// first flag that is out of range.
absl::StatusOr<ServerHostOptions> ServerHostOptionsFromFlags();

}  // namespace server::host

#endif  // SERVER_HOST_SERVER_FLAGS_H_
