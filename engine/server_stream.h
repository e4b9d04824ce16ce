// What a server-streaming handler provides and receives. The engine pulls
// messages from a StreamSource whenever the stream can take one, so a source
// decides what to send next (and can coalesce updates for a slow reader) and
// memory never grows with a reader that does not keep up.
#ifndef ENGINE_SERVER_STREAM_H_
#define ENGINE_SERVER_STREAM_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace engine {

enum class StreamStep {
  kSend,    // the source filled the message: send it
  kWait,    // nothing to send now: idle until StreamWaker::Wake
  kFinish,  // end the stream with FinalStatus()
};

// Implemented by a streaming handler. All methods run on the call's
// completion-queue thread, one at a time, with the call's lock held: they
// must not call back into the engine (Wake included) and must not block.
template <class Response>
class StreamSource {
 public:
  virtual ~StreamSource() = default;

  // Fills `message` with the next message to send (it is cleared before).
  virtual StreamStep Next(Response& message) = 0;

  // The status the stream ends with after Next returned kFinish.
  virtual absl::Status FinalStatus() { return absl::OkStatus(); }

  // Called exactly once when the stream is over for any reason (finished,
  // cancelled by the client, broken, or server shutdown), before the source
  // is destroyed. Unregister wakers here; afterwards Wake is a no-op anyway.
  virtual void OnClosed(bool cancelled) {}
};

namespace internal {
class WakeTarget {
 public:
  virtual void Wake(std::uint64_t generation) = 0;

 protected:
  ~WakeTarget() = default;
};
}  // namespace internal

// A copyable handle that tells one stream "Next() has something new". Safe to
// call from any thread, any number of times, even after the stream ended (a
// stale handle does nothing). It must not outlive the Engine.
class StreamWaker {
 public:
  StreamWaker() = default;
  StreamWaker(internal::WakeTarget* target, std::uint64_t generation)
      : target_(target), generation_(generation) {}

  void Wake() const {
    if (target_ != nullptr) target_->Wake(generation_);
  }

 private:
  internal::WakeTarget* target_ = nullptr;
  std::uint64_t generation_ = 0;
};

// Opens a stream for `request`: returns its source, or an error status that
// ends the call at once (e.g. INVALID_ARGUMENT).
template <class Request, class Response>
using ServerStreamHandler = std::function<absl::StatusOr<std::unique_ptr<StreamSource<Response>>>(
    StreamWaker waker, const Request& request)>;

}  // namespace engine

#endif  // ENGINE_SERVER_STREAM_H_
