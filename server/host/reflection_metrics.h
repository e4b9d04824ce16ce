// Counts gRPC's server reflection calls in the same go-grpc-prometheus
// metrics as the engine's own methods. Reflection is gRPC's synchronous
// service (grpc++_reflection), outside the engine, so a server interceptor
// observes it: grpc_server_started_total, _handled_total, _handling_seconds
// and _msg_received/_sent_total with grpc_type="bidi_stream".
//
// An interceptor factory makes gRPC allocate per-call interceptor state for
// every call of the server, the engine's included, so ServerHost installs it
// only when both reflection and metrics are on.
#ifndef SERVER_HOST_REFLECTION_METRICS_H_
#define SERVER_HOST_REFLECTION_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "engine/rpc_observer.h"

namespace server::host {

// The one method reflection serves (gRPC 1.51's v1alpha).
inline constexpr char kReflectionMethod[] =
    "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// Makes the interceptor for reflection calls, none for any other. `observer`
// must outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> ReflectionMetrics(
    engine::RpcObserver& observer);

}  // namespace server::host

#endif  // SERVER_HOST_REFLECTION_METRICS_H_
