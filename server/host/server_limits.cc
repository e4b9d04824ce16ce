#include "server/host/server_limits.h"

#include <grpc/grpc.h>
#include <grpcpp/resource_quota.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace server::host {
namespace {

int ToMillis(absl::Duration duration) {
  return static_cast<int>(
      std::min<std::int64_t>(absl::ToInt64Milliseconds(duration), std::numeric_limits<int>::max()));
}

}  // namespace

absl::Status ValidateServerLimits(const ServerLimits& limits) {
  if (limits.max_receive_message_bytes < 1024 ||
      limits.max_receive_message_bytes > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_receive_message_bytes must be between 1024 and 2^31-1, got ",
                     limits.max_receive_message_bytes));
  }
  if (limits.max_concurrent_streams < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_concurrent_streams must be at least 1, got ", limits.max_concurrent_streams));
  }
  if (limits.max_metadata_bytes < 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_metadata_bytes must be at least 1024, got ", limits.max_metadata_bytes));
  }
  if (limits.max_ping_strikes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_ping_strikes must not be negative, got ", limits.max_ping_strikes));
  }
  if (limits.min_client_ping_interval < absl::ZeroDuration() ||
      limits.keepalive_time <= absl::ZeroDuration() ||
      limits.keepalive_timeout <= absl::ZeroDuration() ||
      limits.max_connection_idle <= absl::ZeroDuration() ||
      limits.max_connection_age <= absl::ZeroDuration() ||
      limits.max_connection_age_grace <= absl::ZeroDuration() ||
      limits.handshake_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "min_client_ping_interval must not be negative, and keepalive_time, keepalive_timeout, "
        "max_connection_idle, max_connection_age, max_connection_age_grace and "
        "handshake_timeout must be positive");
  }
  if (limits.memory_quota_bytes < (std::int64_t{16} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "memory_quota_bytes must be at least 16 MiB, got ", limits.memory_quota_bytes));
  }
  return absl::OkStatus();
}

void ApplyServerLimits(const ServerLimits& limits, grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(static_cast<int>(limits.max_receive_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, limits.max_metadata_bytes);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             ToMillis(limits.min_client_ping_interval));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, limits.max_ping_strikes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                             limits.permit_keepalive_without_calls ? 1 : 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ToMillis(limits.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ToMillis(limits.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, ToMillis(limits.max_connection_idle));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, ToMillis(limits.max_connection_age));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             ToMillis(limits.max_connection_age_grace));
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             ToMillis(limits.handshake_timeout));
  grpc::ResourceQuota quota("server-memory");
  quota.Resize(static_cast<size_t>(limits.memory_quota_bytes));
  builder.SetResourceQuota(quota);
}

}  // namespace server::host
