// The build_info gauge: which build a server is, in every scrape.
//
//   build_info{grpc_version="1.51.1",protobuf_version="3.21.12",version="0.5.0"} 1
//
// version is this project's (engine::kVersion), grpc_version the gRPC
// library the process runs (grpc::Version()), protobuf_version the protobuf
// headers it was compiled with. The value is always 1, so dashboards join on
// the labels, e.g. `rate(grpc_server_handled_total[5m]) * on(instance)
// group_left(version) build_info`.
#ifndef METRICS_BUILD_INFO_H_
#define METRICS_BUILD_INFO_H_

#include <prometheus/registry.h>

#include <map>
#include <string>

namespace metrics {

// The labels of build_info, as described above.
std::map<std::string, std::string> BuildInfoLabels();

// Adds build_info to `registry`. Adding it again to the same registry is a
// no-op (prometheus-cpp merges families and metrics with equal labels).
void AddBuildInfo(prometheus::Registry& registry);

}  // namespace metrics

#endif  // METRICS_BUILD_INFO_H_
