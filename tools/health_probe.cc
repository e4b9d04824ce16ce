// health_probe: asks a server's grpc.health.v1.Health/Check whether it is
// SERVING, for container healthchecks and scripts (Debian has no
// grpc_health_probe). Exit status, as grpc_health_probe's:
//   0  SERVING
//   1  bad command line (--help and --version print and exit 0)
//   2  no answer: the address is unreachable, refused the connection, did
//      not answer within --timeout, or is shutting down (UNAVAILABLE)
//   3  the Check call failed otherwise: unknown service (NOT_FOUND), no
//      health service (UNIMPLEMENTED), ...
//   4  the server answered with a status other than SERVING (NOT_SERVING,
//      UNKNOWN, SERVICE_UNKNOWN)
// Everything but SERVING is explained in one line on stderr.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/host/command_line.h"

ABSL_FLAG(std::string, addr, "", "host:port of the server to probe (required).");
ABSL_FLAG(std::string, service, "",
          "Service name to ask about; empty (the default) asks about the whole server.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(1),
          "Bound on the whole probe: connecting and the Check call.");

namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

enum ExitCode {
  kServing = 0,
  kUsage = 1,
  kNoAnswer = 2,
  kRpcError = 3,
  kNotServing = 4,
};

int Report(int code, const std::string& message) {
  std::fprintf(stderr, "health_probe: %s\n", message.c_str());
  return code;
}

std::string CodeName(grpc::StatusCode code) {
  // grpc::StatusCode and absl::StatusCode share their numbering.
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

std::string Quoted(const std::string& service) { return absl::StrCat("'", service, "'"); }

// The command line of every binary of the project (server/host/command_line.h):
// dashes or underscores in flag names, --help lists this tool's flags,
// --version, and a positional argument is an error (exit 1).
void ParseFlags(int argc, char** argv) {
  server::host::ParseCommandLine(
      argc, argv,
      {.program = "health_probe",
       .usage = "Asks grpc.health.v1.Health/Check whether a server is SERVING.\n"
                "Usage: health_probe --addr=host:port [--service=NAME] [--timeout=1s]\n"
                "Exit status: 0 SERVING, 1 bad usage, 2 no answer (unreachable or timed out),\n"
                "3 the Check call failed (e.g. unknown service), 4 answered but not SERVING."});
}

}  // namespace

int main(int argc, char** argv) {
  ParseFlags(argc, argv);
  const std::string addr = absl::GetFlag(FLAGS_addr);
  const std::string service = absl::GetFlag(FLAGS_service);
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  if (addr.empty()) return Report(kUsage, "--addr is required (host:port)");
  if (timeout <= absl::ZeroDuration()) {
    return Report(kUsage,
                  absl::StrCat("--timeout must be positive, got ", absl::FormatDuration(timeout)));
  }

  grpc::ChannelArguments args;
  // A probe talks to the address it was given, never through an HTTP proxy
  // from the environment.
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  args.SetUserAgentPrefix("health_probe");
  auto channel = grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
  auto stub = grpc::health::v1::Health::NewStub(channel);

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // Fail fast on a refused connection instead of waiting out the deadline.
  context.set_wait_for_ready(false);
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);

  const std::string where = absl::StrCat(addr, ", service ", Quoted(service));
  if (status.ok()) {
    if (response.status() == HealthCheckResponse::SERVING) {
      std::printf("%s: SERVING\n", where.c_str());
      return kServing;
    }
    return Report(
        kNotServing,
        absl::StrCat(where, ": ", HealthCheckResponse::ServingStatus_Name(response.status())));
  }
  const std::string detail =
      absl::StrCat(CodeName(status.error_code()), ": ", status.error_message());
  switch (status.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Report(kNoAnswer, absl::StrCat("no answer from ", addr, " within ",
                                            absl::FormatDuration(timeout), " (", detail, ")"));
    case grpc::StatusCode::UNAVAILABLE:
      // Unreachable, refused, or a server that is shutting down: either way
      // nothing there serves.
      return Report(kNoAnswer, absl::StrCat("cannot reach ", addr, " (", detail, ")"));
    case grpc::StatusCode::NOT_FOUND:
      return Report(kRpcError,
                    absl::StrCat(addr, ": unknown service ", Quoted(service), " (", detail, ")"));
    case grpc::StatusCode::UNIMPLEMENTED:
      return Report(kRpcError,
                    absl::StrCat(addr, " does not serve grpc.health.v1.Health (", detail, ")"));
    default:
      return Report(kRpcError, absl::StrCat(where, ": Check failed (", detail, ")"));
  }
}
