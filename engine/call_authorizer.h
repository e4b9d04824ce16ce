// The engine's one authorization step: every call of a guarded method is
// checked after admission (engine/engine.h: the per-connection and
// per-method limits) and before its request is parsed or its handler runs.
// A denied call is answered with the status the check returns and never
// reaches the service; services contain no authorization code of their own.
//
// Which methods are guarded is decided once, at Engine::Start(): an
// unguarded method costs nothing per call.
#ifndef ENGINE_CALL_AUTHORIZER_H_
#define ENGINE_CALL_AUTHORIZER_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"

namespace engine {

// The check of one method.
class MethodAuthorizer {
 public:
  virtual ~MethodAuthorizer() = default;
  // OK lets the call through; any other status is what the caller gets
  // (UNAUTHENTICATED: no valid credential; PERMISSION_DENIED: a credential
  // that is not allowed this method). Called on a completion-queue thread,
  // possibly on several at once: thread-safe, cheap, never blocking. The
  // context's metadata and auth_context() (the TLS peer) are available.
  //
  // On OK the check may name the caller it authenticated in `*principal`
  // (never null, empty on entry): the handler reads it as its responder's
  // principal(), e.g. to record who owns what the call creates. Left empty,
  // the call has no principal.
  virtual absl::Status Authorize(grpc::ServerContext& context, std::string* principal) const = 0;
};

// Hands out the check of each method.
class CallAuthorizer {
 public:
  virtual ~CallAuthorizer() = default;
  // Called by Engine::Start() once per registered method ("package.Service/
  // Method"). Null: calls of that method are not checked. The result must
  // outlive the engine.
  virtual const MethodAuthorizer* ForMethod(const std::string& full_method) = 0;
};

}  // namespace engine

#endif  // ENGINE_CALL_AUTHORIZER_H_
