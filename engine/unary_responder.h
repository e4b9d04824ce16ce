// The handle a unary handler answers through. Handlers never see tags,
// completion queues or state: they get `(UnaryResponder<Response>, const
// Request&)` and finish the call exactly once, on any thread, now or later.
#ifndef ENGINE_UNARY_RESPONDER_H_
#define ENGINE_UNARY_RESPONDER_H_

#include <grpcpp/server_context.h>

#include <cassert>
#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace engine {

namespace internal {
// Implemented by the unary call state machine.
template <class Response>
class UnaryCompletion {
 public:
  virtual Response& response() = 0;
  virtual void Finish(const absl::Status& status) = 0;
  virtual bool IsCancelled() const = 0;
  virtual grpc::ServerContext& context() = 0;
  virtual const std::string& principal() const = 0;

 protected:
  ~UnaryCompletion() = default;
};
}  // namespace internal

// Move-only. Contract:
// - Fill response() and call Finish(OkStatus()), or call Finish(error); the
//   response is sent only with an OK status.
// - Finish may be called from any thread. The request passed to the handler
//   and response() stay valid until Finish is called.
// - A responder destroyed without Finish answers INTERNAL, so a forgotten
//   call can never hang a client or leak a call slot.
// - Finish before Engine::Shutdown's drain deadline has passed twice; a later
//   Finish is dropped and counted as abandoned. A responder must never outlive
//   its Engine.
template <class Response>
class UnaryResponder {
 public:
  explicit UnaryResponder(internal::UnaryCompletion<Response>* call) : call_(call) {}
  UnaryResponder(UnaryResponder&& other) noexcept : call_(std::exchange(other.call_, nullptr)) {}
  UnaryResponder& operator=(UnaryResponder&& other) noexcept {
    if (this != &other) {
      FinishIfPending();
      call_ = std::exchange(other.call_, nullptr);
    }
    return *this;
  }
  UnaryResponder(const UnaryResponder&) = delete;
  UnaryResponder& operator=(const UnaryResponder&) = delete;
  ~UnaryResponder() { FinishIfPending(); }

  Response& response() {
    assert(call_ != nullptr && "responder already finished or moved from");
    return call_->response();
  }

  void Finish(const absl::Status& status = absl::OkStatus()) {
    assert(call_ != nullptr && "responder already finished or moved from");
    std::exchange(call_, nullptr)->Finish(status);
  }

  // True once the client cancelled or the deadline passed. Long-running
  // handlers may poll it to stop early; it never becomes false again. Always
  // false for a method registered with MethodOptions::watch_cancellation off.
  bool IsCancelled() const {
    assert(call_ != nullptr && "responder already finished or moved from");
    return call_->IsCancelled();
  }

  absl::Time deadline() const { return absl::FromChrono(call_->context().deadline()); }

  // The caller the method's authorizer authenticated and named
  // (engine/call_authorizer.h), e.g. a client certificate's name; empty when
  // the method is not checked or the check named nobody. Valid until Finish.
  const std::string& principal() const {
    assert(call_ != nullptr && "responder already finished or moved from");
    return call_->principal();
  }

  // Metadata, peer and auth context of the call.
  grpc::ServerContext& context() { return call_->context(); }

 private:
  void FinishIfPending() {
    if (call_ != nullptr) {
      std::exchange(call_, nullptr)
          ->Finish(absl::InternalError("the handler returned without answering the call"));
    }
  }

  internal::UnaryCompletion<Response>* call_;
};

template <class Request, class Response>
using UnaryHandler = std::function<void(UnaryResponder<Response>, const Request&)>;

}  // namespace engine

#endif  // ENGINE_UNARY_RESPONDER_H_
