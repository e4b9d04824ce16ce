#include "metrics/metrics_server.h"

#include <exception>
#include <vector>

#include "absl/strings/str_cat.h"

namespace metrics {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen_address, std::shared_ptr<prometheus::Registry> registry,
    const MetricsServerOptions& options) {
  if (options.workers < 1 || options.workers > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics workers must be 1..64, not ", options.workers));
  }
  if (options.request_timeout < absl::Milliseconds(1) ||
      options.request_timeout > absl::Seconds(60)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the metrics request timeout must be 1ms..60s, not ",
                     absl::FormatDuration(options.request_timeout)));
  }
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // civetweb's options, as prometheus-cpp passes them on.
    exposer = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", listen_address, "num_threads", absl::StrCat(options.workers),
        "request_timeout_ms", absl::StrCat(absl::ToInt64Milliseconds(options.request_timeout))});
  } catch (const std::exception& error) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on '", listen_address, "': ", error.what()));
  }
  exposer->RegisterCollectable(registry);
  std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on '", listen_address, "': not listening"));
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(exposer), ports.front()));
}

}  // namespace metrics
