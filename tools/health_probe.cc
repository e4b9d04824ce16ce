// health_probe: asks a server's grpc.health.v1.Health/Check whether it is
// SERVING, for container healthchecks and scripts (Debian has no
// grpc_health_probe). Flags and exit status as grpc_health_probe's
// (-addr, -service, -connect-timeout, -rpc-timeout, -tls, -tls-ca-cert,
// -tls-client-cert, -tls-client-key, -tls-server-name; one dash or two,
// dashes or underscores):
//   0  SERVING
//   1  bad command line (--help and --version print and exit 0)
//   2  connection failure: refused, unreachable, or not connected within
//      --connect_timeout
//   3  the Check call failed on a connection: no answer within
//      --rpc_timeout (DEADLINE_EXCEEDED), unknown service (NOT_FOUND), no
//      health service (UNIMPLEMENTED), shutting down (UNAVAILABLE), ...
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
#include "server/host/client_tls_flags.h"
#include "server/host/command_line.h"
#include "server/host/tls_credentials.h"

ABSL_FLAG(std::string, addr, "",
          "host:port of the server to probe (required); ':port' means localhost:port, as for "
          "grpc_health_probe.");
ABSL_FLAG(std::string, service, "",
          "Service name to ask about; empty (the default) asks about the whole server.");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(1),
          "Longest wait for the connection; past it the probe exits 2.");
ABSL_FLAG(absl::Duration, rpc_timeout, absl::Seconds(1),
          "Longest wait for the Check call once connected; past it the probe exits 3.");
ABSL_FLAG(absl::Duration, timeout, absl::ZeroDuration(),
          "If positive, sets both --connect_timeout and --rpc_timeout (kept for older "
          "scripts). 0: use those two.");
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
                "Usage: health_probe --addr=host:port [--service=NAME] [--connect_timeout=1s]\n"
                "       [--rpc_timeout=1s] [--tls [--tls_ca_cert=FILE] [--tls_client_cert=FILE\n"
                "       --tls_client_key=FILE] [--tls_server_name=NAME]]\n"
                "Exit status: 0 SERVING, 1 bad usage, 2 connection failure (refused, or not\n"
                "connected within --connect_timeout), 3 the Check call failed (no answer within\n"
                "--rpc_timeout, unknown service, ...), 4 answered but not SERVING."});
}

// grpc_health_probe (grpc-go) dials ":port" as localhost:port, like
// net.Dial; gRPC C++ would not resolve an empty host.
std::string DialTarget(const std::string& addr) {
  if (!addr.empty() && addr.front() == ':') return absl::StrCat("localhost", addr);
  return addr;
}

}  // namespace

int main(int argc, char** argv) {
  server::host::KeepOpenSslThroughExit();  // before any thread: see its comment
  ParseFlags(argc, argv);
  const std::string addr = absl::GetFlag(FLAGS_addr);
  const std::string service = absl::GetFlag(FLAGS_service);
  absl::Duration connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  absl::Duration rpc_timeout = absl::GetFlag(FLAGS_rpc_timeout);
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  if (addr.empty()) return Report(kUsage, "--addr is required (host:port)");
  if (timeout < absl::ZeroDuration()) {
    return Report(kUsage, absl::StrCat("--timeout must not be negative, got ",
                                       absl::FormatDuration(timeout)));
  }
  if (timeout > absl::ZeroDuration()) connect_timeout = rpc_timeout = timeout;
  if (connect_timeout <= absl::ZeroDuration()) {
    return Report(kUsage, absl::StrCat("--connect_timeout must be positive, got ",
                                       absl::FormatDuration(connect_timeout)));
  }
  if (rpc_timeout <= absl::ZeroDuration()) {
    return Report(kUsage, absl::StrCat("--rpc_timeout must be positive, got ",
                                       absl::FormatDuration(rpc_timeout)));
  }

  const server::host::ChannelTlsOptions tls = server::host::ChannelTlsOptionsFromFlags();
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      server::host::MakeChannelCredentials(tls);
  if (!credentials.ok()) return Report(kUsage, std::string(credentials.status().message()));

  grpc::ChannelArguments args;
  // A probe talks to the address it was given, never through an HTTP proxy
  // from the environment.
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  args.SetUserAgentPrefix("health_probe");
  server::host::ApplyChannelTlsArguments(tls, args);
  auto channel = grpc::CreateCustomChannel(DialTarget(addr), *credentials, args);

  // 1. Connect. A refused or unreachable address ends at once (the channel
  // reports TRANSIENT_FAILURE) rather than after the whole timeout.
  const absl::Time connect_deadline = absl::Now() + connect_timeout;
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY && state != GRPC_CHANNEL_TRANSIENT_FAILURE &&
         state != GRPC_CHANNEL_SHUTDOWN) {
    if (!channel->WaitForStateChange(state, absl::ToChronoTime(connect_deadline))) {
      return Report(kNoAnswer,
                    absl::StrCat("no connection to ", addr, " within ",
                                 absl::FormatDuration(connect_timeout), " (--connect_timeout)"));
    }
    state = channel->GetState(/*try_to_connect=*/true);
  }
  const bool connected = state == GRPC_CHANNEL_READY;

  // 2. Check. Without a connection it fails fast with UNAVAILABLE, whose
  // detail says why the connection failed.
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + rpc_timeout));
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
  if (!connected && status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return Report(kNoAnswer, absl::StrCat("cannot reach ", addr, " (", detail, ")"));
  }
  switch (status.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Report(kRpcError, absl::StrCat(where, ": Check did not answer within ",
                                            absl::FormatDuration(rpc_timeout), " (--rpc_timeout; ",
                                            detail, ")"));
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
