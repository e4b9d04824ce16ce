#include "server/common/server_host.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/impl/server_builder_option.h>

#include <algorithm>
#include <string>

#include "absl/strings/numbers.h"

namespace server {
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
  for (const auto& [name, value] : options_.channel_args) {
    int number = 0;
    if (absl::SimpleAtoi(value, &number)) {
      engine_.builder().AddChannelArgument(name, number);
    } else {
      engine_.builder().AddChannelArgument(name, value);
    }
  }
  engine_.builder().SetOption(std::make_unique<ReflectionOption>(options_.reflection));
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
