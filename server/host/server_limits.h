// Defensive transport limits applied to every server. Debian's gRPC 1.51.1
// carries unpatched HTTP/2 denial-of-service CVEs (see SECURITY.md); these
// bounds narrow what one peer can make the server hold.
#ifndef SERVER_HOST_SERVER_LIMITS_H_
#define SERVER_HOST_SERVER_LIMITS_H_

#include <grpcpp/server_builder.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace server::host {

struct ServerLimits {
  // Largest request accepted; bigger ones fail with RESOURCE_EXHAUSTED. A full
  // batch of 1000 ids of 128 bytes is ~131 KiB, so 1 MiB leaves headroom.
  std::int64_t max_receive_message_bytes = 1 << 20;
  // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection.
  int max_concurrent_streams = 256;
  // Largest header list (metadata) accepted per call.
  int max_metadata_bytes = 16 * 1024;
  // Clients pinging more often than this without data earn a strike.
  absl::Duration min_client_ping_interval = absl::Seconds(10);
  // Strikes before the connection is closed with GOAWAY(ENHANCE_YOUR_CALM).
  int max_ping_strikes = 2;
  // Whether min_client_ping_interval also applies to a connection with no
  // call in progress. false: gRPC's own rule for such a connection, one ping
  // per 2 hours, so a client keeping an idle channel alive (keepalive
  // without calls, e.g. every 10 s) earns strikes and is sent
  // GOAWAY(too_many_pings) within a few intervals. Also lets the server's own
  // keepalive pings run on idle connections.
  bool permit_keepalive_without_calls = true;
  // Server-initiated keepalive: detects dead peers holding streams open.
  absl::Duration keepalive_time = absl::Minutes(1);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // Connections idle (no calls) this long are closed with GOAWAY.
  absl::Duration max_connection_idle = absl::Minutes(10);
  // Every connection is sent GOAWAY at this age (gRPC adds +-10% jitter),
  // and closed max_connection_age_grace later, whatever is still open on
  // it. This is the bound on a stream that is opened and never completed
  // (HEADERS without its message): gRPC 1.51.1 keeps such a stream before
  // any request matches it, where the engine cannot see or cancel it, and
  // keepalive and max_connection_idle do not end it. Clients reconnect on
  // GOAWAY by themselves; a Watch stream open at the close ends with
  // UNAVAILABLE, and its client watches again.
  absl::Duration max_connection_age = absl::Minutes(30);
  absl::Duration max_connection_age_grace = absl::Minutes(1);
  // A connection must finish its TLS/HTTP2 handshake within this time.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Memory gRPC may use for buffers across all connections (resource quota).
  std::int64_t memory_quota_bytes = std::int64_t{1} << 30;
};

absl::Status ValidateServerLimits(const ServerLimits& limits);

// Applies every limit to `builder`. The resource quota is owned by gRPC
// afterwards.
void ApplyServerLimits(const ServerLimits& limits, grpc::ServerBuilder& builder);

}  // namespace server::host

#endif  // SERVER_HOST_SERVER_LIMITS_H_
