#include "server/common/server_host.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/impl/server_builder_option.h>

namespace server {
namespace {

// Adds the reflection plugin to one builder only. (The documented
// InitProtoReflectionServerBuilderPlugin() is process-wide and would turn
// reflection on for every server built afterwards, tests included.)
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
  }
};

}  // namespace

ServerHost::ServerHost(ServerHostOptions options)
    : options_(std::move(options)), engine_(options_.engine) {
  health_.Register(engine_);
}

ServerHost::~ServerHost() { Shutdown(); }

absl::StatusOr<int> ServerHost::Start(const std::string& listen_address,
                                      const std::vector<std::string>& service_names) {
  if (absl::Status valid = ValidateServerLimits(options_.limits); !valid.ok()) return valid;
  ApplyServerLimits(options_.limits, engine_.builder());
  if (options_.reflection) engine_.builder().SetOption(std::make_unique<ReflectionOption>());
  absl::StatusOr<int> port = engine_.Start(listen_address);
  if (!port.ok()) return port;
  health_.SetStatus("", grpc::health::v1::HealthCheckResponse::SERVING);
  for (const std::string& name : service_names) {
    health_.SetStatus(name, grpc::health::v1::HealthCheckResponse::SERVING);
  }
  return port;
}

void ServerHost::Shutdown() {
  health_.SetAllNotServing();
  engine_.Shutdown();
}

}  // namespace server
