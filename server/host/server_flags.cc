#include "server/host/server_flags.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "server/host/command_line.h"

// Every default is the library's own: a default-constructed ServerHostOptions
// (and the EngineOptions and ServerLimits in it) configures a server exactly
// as these flags do when none is given.
ABSL_FLAG(int, completion_queues, server::host::ServerHostOptions{}.engine.completion_queues,
          "Completion queues, one thread each. 0 = one per CPU this process may run on.");
ABSL_FLAG(int, requests_per_method, server::host::ServerHostOptions{}.engine.requests_per_method,
          "Requests posted ahead per completion queue and per RPC method (1..100000); "
          "health methods post fewer.");
ABSL_FLAG(int64_t, max_call_slots, server::host::ServerHostOptions{}.engine.max_call_slots,
          "The most call slots (calls in flight plus requests posted) of all methods together: "
          "the bound on call memory. Past it further calls wait inside gRPC.");
ABSL_FLAG(int, max_calls_per_peer, server::host::ServerHostOptions{}.engine.max_calls_per_peer,
          "The most calls one connection may hold at once; more get RESOURCE_EXHAUSTED, and past "
          "twice this they are reset. 0 = no limit.");
ABSL_FLAG(absl::Duration, drain_deadline, server::host::ServerHostOptions{}.engine.drain_deadline,
          "On SIGTERM/SIGINT, how long in-flight calls may run before they are cancelled.");
ABSL_FLAG(bool, coalesce_writes, server::host::ServerHostOptions{}.engine.coalesce_writes,
          "Send the responses a completion-queue thread finishes one after another in one write "
          "per connection, as soon as it has no more ready work (needs the project's build of "
          "gRPC; no effect on Debian's). false: one write per response.");
ABSL_FLAG(bool, reflection, server::host::ServerHostOptions{}.reflection,
          "Serve the gRPC server reflection service.");
ABSL_FLAG(std::string, metrics_listen, server::host::ServerHostOptions{}.metrics_listen,
          "host:port to serve Prometheus metrics on (GET /metrics), e.g. 0.0.0.0:9464; empty: "
          "no metrics endpoint.");
ABSL_FLAG(int, metrics_workers, server::host::ServerHostOptions{}.metrics.workers,
          "HTTP connections the metrics endpoint serves at once (1..64); each connection holds "
          "one until its request is answered or times out.");
ABSL_FLAG(absl::Duration, metrics_request_timeout,
          server::host::ServerHostOptions{}.metrics.request_timeout,
          "The metrics endpoint closes a connection whose request or response stalls this long "
          "(1ms..60s).");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error or critical.");
ABSL_FLAG(bool, mutex_deadlock_detection, false,
          "abseil Mutex lock-order checking, reported to stderr. Debian's abseil has it on by "
          "default; it cost 1.2x throughput in our measurement (docs/performance.md), so servers "
          "turn it off.");

ABSL_FLAG(std::string, tls_cert, server::host::ServerHostOptions{}.tls.cert_file,
          "PEM certificate chain (leaf first) to serve TLS with; needs --tls_key. Empty (and no "
          "--tls_key): plaintext.");
ABSL_FLAG(std::string, tls_key, server::host::ServerHostOptions{}.tls.key_file,
          "PEM private key (unencrypted) of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, server::host::ServerHostOptions{}.tls.client_ca_file,
          "PEM CA certificates: given, every client must present a certificate issued by one "
          "of them (mTLS); others fail the TLS handshake. Needs --tls_cert and --tls_key.");
ABSL_FLAG(absl::Duration, tls_refresh_interval,
          server::host::ServerHostOptions{}.tls.refresh_interval,
          "How often --tls_cert, --tls_key and --tls_client_ca are re-read (whole seconds, at "
          "least 1s): renewed files are used for new connections without a restart.");

ABSL_FLAG(std::vector<std::string>, grpc_channel_args, {},
          "Expert tuning: extra gRPC server channel arguments, comma-separated name=value "
          "(integer or string), applied after the limits above, e.g. grpc.http2.bdp_probe=0.");
ABSL_FLAG(int64_t, max_receive_message_bytes,
          server::host::ServerLimits{}.max_receive_message_bytes,
          "Largest request message accepted; larger ones get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_concurrent_streams, server::host::ServerLimits{}.max_concurrent_streams,
          "HTTP/2 concurrent streams allowed per connection.");
ABSL_FLAG(int, max_metadata_bytes, server::host::ServerLimits{}.max_metadata_bytes,
          "Largest request metadata (headers) accepted per call.");
ABSL_FLAG(absl::Duration, min_client_ping_interval,
          server::host::ServerLimits{}.min_client_ping_interval,
          "Client pings closer together than this (without data) count as strikes.");
ABSL_FLAG(int, max_ping_strikes, server::host::ServerLimits{}.max_ping_strikes,
          "Ping strikes before the connection is closed (0 = unlimited).");
ABSL_FLAG(bool, permit_keepalive_without_calls,
          server::host::ServerLimits{}.permit_keepalive_without_calls,
          "Allow client keepalive pings on a connection with no call in progress at "
          "--min_client_ping_interval. false: one such ping per 2 hours (gRPC's default), and "
          "idle clients that ping more often are closed with GOAWAY(too_many_pings).");
ABSL_FLAG(absl::Duration, keepalive_time, server::host::ServerLimits{}.keepalive_time,
          "Interval of server keepalive pings on an idle transport.");
ABSL_FLAG(absl::Duration, keepalive_timeout, server::host::ServerLimits{}.keepalive_timeout,
          "A keepalive ping unanswered this long closes the connection.");
ABSL_FLAG(absl::Duration, max_connection_idle, server::host::ServerLimits{}.max_connection_idle,
          "Connections without calls for this long are closed with GOAWAY.");
ABSL_FLAG(absl::Duration, max_connection_age, server::host::ServerLimits{}.max_connection_age,
          "Every connection gets GOAWAY at this age (+-10% jitter) and is closed "
          "--max_connection_age_grace later: the bound on streams opened and never completed.");
ABSL_FLAG(absl::Duration, max_connection_age_grace,
          server::host::ServerLimits{}.max_connection_age_grace,
          "How long calls still open on a connection past --max_connection_age may run.");
ABSL_FLAG(absl::Duration, handshake_timeout, server::host::ServerLimits{}.handshake_timeout,
          "Time a new connection has to complete its HTTP/2 handshake.");
ABSL_FLAG(int64_t, memory_quota_bytes, server::host::ServerLimits{}.memory_quota_bytes,
          "gRPC resource quota: memory for buffers across all connections.");

namespace server::host {

std::vector<char*> ParseServerFlags(int argc, char** argv, const char* program, const char* usage) {
  return ParseCommandLine(argc, argv, {.program = program, .usage = usage});
}

absl::StatusOr<ServerHostOptions> ServerHostOptionsFromFlags() {
  auto level = spdlog::level::from_str(absl::GetFlag(FLAGS_log_level));
  if (level == spdlog::level::off && absl::GetFlag(FLAGS_log_level) != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_level: unknown level '", absl::GetFlag(FLAGS_log_level), "'"));
  }
  spdlog::set_level(level);
  absl::SetMutexDeadlockDetectionMode(absl::GetFlag(FLAGS_mutex_deadlock_detection)
                                          ? absl::OnDeadlockCycle::kReport
                                          : absl::OnDeadlockCycle::kIgnore);

  ServerHostOptions options;
  options.engine.completion_queues = absl::GetFlag(FLAGS_completion_queues);
  options.engine.requests_per_method = absl::GetFlag(FLAGS_requests_per_method);
  options.engine.max_call_slots = absl::GetFlag(FLAGS_max_call_slots);
  options.engine.max_calls_per_peer = absl::GetFlag(FLAGS_max_calls_per_peer);
  options.engine.drain_deadline = absl::GetFlag(FLAGS_drain_deadline);
  options.engine.coalesce_writes = absl::GetFlag(FLAGS_coalesce_writes);
  options.reflection = absl::GetFlag(FLAGS_reflection);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.metrics.workers = absl::GetFlag(FLAGS_metrics_workers);
  options.metrics.request_timeout = absl::GetFlag(FLAGS_metrics_request_timeout);
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.tls.refresh_interval = absl::GetFlag(FLAGS_tls_refresh_interval);
  // Before anything else starts (storage, look-up clients): a bad file stops
  // the server at once, naming it.
  if (absl::Status valid = ValidateServerTlsOptions(options.tls); !valid.ok()) return valid;
  ServerLimits& limits = options.limits;
  limits.max_receive_message_bytes = absl::GetFlag(FLAGS_max_receive_message_bytes);
  limits.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  limits.max_metadata_bytes = absl::GetFlag(FLAGS_max_metadata_bytes);
  limits.min_client_ping_interval = absl::GetFlag(FLAGS_min_client_ping_interval);
  limits.max_ping_strikes = absl::GetFlag(FLAGS_max_ping_strikes);
  limits.permit_keepalive_without_calls = absl::GetFlag(FLAGS_permit_keepalive_without_calls);
  limits.keepalive_time = absl::GetFlag(FLAGS_keepalive_time);
  limits.keepalive_timeout = absl::GetFlag(FLAGS_keepalive_timeout);
  limits.max_connection_idle = absl::GetFlag(FLAGS_max_connection_idle);
  limits.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  limits.max_connection_age_grace = absl::GetFlag(FLAGS_max_connection_age_grace);
  limits.handshake_timeout = absl::GetFlag(FLAGS_handshake_timeout);
  limits.memory_quota_bytes = absl::GetFlag(FLAGS_memory_quota_bytes);
  for (const std::string& arg : absl::GetFlag(FLAGS_grpc_channel_args)) {
    std::pair<std::string, std::string> name_value = absl::StrSplit(arg, absl::MaxSplits('=', 1));
    if (name_value.first.empty() || arg.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--grpc_channel_args: expected name=value, got '", arg, "'"));
    }
    options.channel_args.push_back(std::move(name_value));
  }
  // The option names in these messages are the flag names.
  for (const absl::Status& valid :
       {engine::ValidateEngineOptions(options.engine), ValidateServerLimits(limits)}) {
    if (!valid.ok()) return absl::InvalidArgumentError(absl::StrCat("--", valid.message()));
  }
  return options;
}

}  // namespace server::host
