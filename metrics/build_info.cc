#include "metrics/build_info.h"

#include <google/protobuf/stubs/common.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/gauge.h>

#include "engine/version.h"

namespace metrics {

std::map<std::string, std::string> BuildInfoLabels() {
  return {
      {"version", engine::kVersion},
      {"grpc_version", grpc::Version()},
      {"protobuf_version", google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION)},
  };
}

void AddBuildInfo(prometheus::Registry& registry) {
  prometheus::BuildGauge()
      .Name("build_info")
      .Help("Always 1; the labels say which build this server is.")
      .Register(registry)
      .Add(BuildInfoLabels())
      .Set(1);
}

}  // namespace metrics
