#include "server/host/server_host.h"

#include <errno.h>  // program_invocation_short_name
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/support/server_interceptor.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "deps/grpc/grpc_build.h"
#include "engine/write_coalescing.h"
#include "metrics/build_info.h"
#include "metrics/process_collector.h"
#include "server/host/reflection_metrics.h"

namespace server::host {
namespace {

// Turns reflection on or off for one builder. Linking grpc++_reflection
// registers its plugin for every server in the process (a static
// initializer), so "off" has to remove it and "on" must not add a second one.
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enabled) : enabled_(enabled) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    auto reflection = std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>();
    const std::string name = reflection->name();
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [&](const auto& plugin) { return plugin->name() == name; }),
                   plugins->end());
    if (enabled_) plugins->push_back(std::move(reflection));
  }

 private:
  const bool enabled_;
};

// gRPC takes a port above 65535 modulo 2^16 (":99999" serves on 34463):
// refuse it, and anything else that is not a port, before gRPC sees it.
absl::Status ValidateListenPort(const std::string& address) {
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) {
    return absl::OkStatus();
  }
  const std::size_t colon = address.rfind(':');
  const std::string port = colon == std::string::npos ? "" : address.substr(colon + 1);
  int number = -1;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(port, &number) || number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "could not listen on '", address, "': expected host:port with a port in 0..65535"));
  }
  return absl::OkStatus();
}

}  // namespace

ServerHostOptions ServerHost::WithHooks(ServerHostOptions options, engine::RpcObserver* observer,
                                        engine::CallAuthorizer* authorizer) {
  // Without an endpoint nobody can read the metrics: skip their per-call cost.
  if (!options.metrics_listen.empty()) options.engine.observer = observer;
  options.engine.authorizer = authorizer;
  return options;
}

ServerHost::ServerHost(ServerHostOptions options)
    : metrics_registry_(std::make_shared<prometheus::Registry>()),
      server_metrics_(*metrics_registry_, metrics::GrpcPrometheus::Side::kServer),
      authorization_(
          std::make_unique<Authorization>(options.authorization, metrics_registry_.get())),
      options_(WithHooks(std::move(options), &server_metrics_, authorization_.get())),
      engine_(options_.engine) {
  metrics::AddBuildInfo(*metrics_registry_);
  AddMetricsCollectable(std::make_shared<metrics::ProcessCollector>());
  health_.Register(engine_);
}

ServerHost::~ServerHost() { Shutdown(); }

absl::StatusOr<int> ServerHost::Start(const std::string& listen_address,
                                      const std::vector<std::string>& service_names) {
  if (absl::Status valid = ValidateServerLimits(options_.limits); !valid.ok()) return valid;
  if (absl::Status valid = ValidateListenPort(listen_address); !valid.ok()) return valid;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options_.tls);
  if (!credentials.ok()) return credentials.status();
  if (absl::Status loaded = authorization_->Load(!options_.tls.client_ca_file.empty());
      !loaded.ok()) {
    return loaded;
  }
  ApplyServerLimits(options_.limits, engine_.builder());
  for (const auto& [name, value] : options_.channel_args) {
    int number = 0;
    if (absl::SimpleAtoi(value, &number)) {
      engine_.builder().AddChannelArgument(name, number);
    } else {
      engine_.builder().AddChannelArgument(name, value);
    }
  }
  engine_.builder().SetOption(std::make_unique<ReflectionOption>(options_.reflection));
  if (options_.reflection && options_.engine.observer != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(ReflectionMetrics(*options_.engine.observer));
    engine_.builder().experimental().SetInterceptorCreators(std::move(creators));
  }
  if (!options_.metrics_listen.empty()) {
    auto metrics_server =
        metrics::MetricsServer::Start(options_.metrics_listen, metrics_registry_, options_.metrics);
    if (!metrics_server.ok()) return metrics_server.status();
    metrics_server_ = std::move(metrics_server).value();
    for (const auto& collectable : extra_collectables_) metrics_server_->Register(collectable);
  }
  absl::StatusOr<int> port = engine_.Start(listen_address, *std::move(credentials));
  if (!port.ok()) {
    metrics_server_.reset();  // its collectors may read what dies before the host
    return port;
  }
  health_.SetStatus("", grpc::health::v1::HealthCheckResponse::SERVING);
  for (const std::string& name : service_names) {
    health_.SetStatus(name, grpc::health::v1::HealthCheckResponse::SERVING);
  }
  // Which gRPC this binary runs on (deps/grpc/grpc.cmake), for every server.
  spdlog::info("{} runs on gRPC {} ({}); write coalescing {}", program_invocation_short_name,
               grpc::Version(), INVENTORY_GRPC_BUILD,
               !engine::WriteCoalescingAvailable() ? "unavailable on this gRPC"
               : options_.engine.coalesce_writes   ? "on"
                                                   : "off");
  if (*INVENTORY_GRPC_MISSING_PATCHES != '\0') {
    spdlog::warn(
        "{}: this gRPC lacks the project's patches {}: the HTTP/2 denial-of-service fixes "
        "among them (rapid reset CVE-2023-44487, HPACK metadata limit, streams before the "
        "SETTINGS ACK) are absent; see SECURITY.md",
        program_invocation_short_name, INVENTORY_GRPC_MISSING_PATCHES);
  }
  if (options_.tls.enabled()) {
    spdlog::info("{} serves {}", program_invocation_short_name, DescribeServerTls(options_.tls));
  } else if (!IsLoopbackListenAddress(listen_address)) {
    spdlog::warn(
        "{} serves PLAINTEXT on {}, reachable from the network: anyone who reaches the port can "
        "call every method, unauthenticated and unencrypted. Give --tls_cert and --tls_key "
        "(and --tls_client_ca to require client certificates), or listen on 127.0.0.1.",
        program_invocation_short_name, listen_address);
  }
  if (const std::string admins = authorization_->Describe(!options_.tls.enabled());
      !admins.empty()) {
    if (authorization_->insecure()) {
      spdlog::warn("{}", admins);
    } else {
      spdlog::info("{}", admins);
    }
  }
  if (const std::string orders = authorization_->DescribeOrders(); !orders.empty()) {
    if (!authorization_->ordering_checked() && !IsLoopbackListenAddress(listen_address)) {
      spdlog::warn("{}, and the port is reachable from the network", orders);
    } else {
      spdlog::info("{}", orders);
    }
  }
  return port;
}

void ServerHost::Shutdown() {
  health_.SetAllNotServing();
  engine_.Shutdown();
  // Scrapes read the services' and clients' state (e.g. a look-up client's
  // Stats()), which the caller may destroy before the host.
  metrics_server_.reset();
}

}  // namespace server::host
