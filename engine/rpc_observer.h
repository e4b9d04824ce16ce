// Per-RPC events for metrics, seen from a server (the engine) or a client
// (the batching inventory client). An interface only, so neither depends on
// a metrics library; metrics/grpc_prometheus.h implements it.
#ifndef ENGINE_RPC_OBSERVER_H_
#define ENGINE_RPC_OBSERVER_H_

#include <grpcpp/support/status_code_enum.h>

#include <string>

#include "absl/time/time.h"

namespace engine {

// kBidiStream: methods served outside the engine (gRPC's reflection).
enum class RpcType { kUnary, kServerStream, kBidiStream };

// The events of one method. Thread-safe, cheap, non-blocking: called on
// completion-queue threads and on whatever thread finishes a call.
class MethodObserver {
 public:
  virtual ~MethodObserver() = default;
  virtual void OnStarted() = 0;
  // Once per started call, with the status it ended with and the time from
  // start to the status being known.
  virtual void OnHandled(grpc::StatusCode code, absl::Duration elapsed) = 0;
  // A message was received, and a message was sent. On a server (the
  // engine): a request received; a response sent (a server stream: one per
  // completed write). On a client: the request sent, the response received.
  // Observers that do not count messages need not implement them.
  virtual void OnMessageReceived() {}
  virtual void OnMessageSent() {}
};

// Hands out the observer of each method.
class RpcObserver {
 public:
  virtual ~RpcObserver() = default;
  // `full_method` is "package.Service/Method". Called before the first call
  // of that method; the result (null: not observed) must outlive every call.
  virtual MethodObserver* ObserveMethod(const std::string& full_method, RpcType type) = 0;
};

}  // namespace engine

#endif  // ENGINE_RPC_OBSERVER_H_
