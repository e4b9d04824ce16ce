// Coalesced writes: the responses that one completion-queue thread makes
// ready one after another leave in one write (one syscall) per connection.
//
// Without it gRPC starts a transport write, and so a sendmsg, for every
// Finish: each of gRPC's API calls flushes its own work. With it, while a
// thread drains its queue, the writes its handlers start are held, and every
// connection that has any writes once, as soon as the thread finds no ready
// event (before it would wait in Next, or return a timeout from AsyncNext).
// Nothing waits for a timer: at low load the write starts when the one
// handler returns, so latency at one call in flight does not rise.
//
// It needs the project's build of gRPC (deps/grpc/, patch
// 0001-coalesce-writes.patch); built against a gRPC without it, the scope
// does nothing and WriteCoalescingAvailable() is false.
//
// Contract for the thread that enables it: it must be a thread that drains a
// completion queue (engine::Tag::Next or AsyncNext in a loop). Work it does
// between two waits on the queue delays its held writes until the next wait,
// so a handler that blocks (on a lock, a sleep, a synchronous call) delays
// the responses its thread finished before it. Synchronous gRPC calls are
// safe: their wait releases the held writes first.
#ifndef ENGINE_WRITE_COALESCING_H_
#define ENGINE_WRITE_COALESCING_H_

namespace engine {

// Whether the gRPC this program is built against can coalesce writes.
bool WriteCoalescingAvailable();

// Coalesces the writes started on the calling thread while alive (if
// `enable` and available); restores the thread's previous setting, which
// starts any writes still held, when destroyed. Create and destroy it on the
// same thread, e.g. around a queue's drain loop.
class ScopedWriteCoalescing {
 public:
  explicit ScopedWriteCoalescing(bool enable);
  ~ScopedWriteCoalescing();
  ScopedWriteCoalescing(const ScopedWriteCoalescing&) = delete;
  ScopedWriteCoalescing& operator=(const ScopedWriteCoalescing&) = delete;

  // Whether this thread's writes are coalesced now.
  bool active() const { return active_; }

 private:
  bool active_ = false;
  bool previous_ = false;
};

}  // namespace engine

#endif  // ENGINE_WRITE_COALESCING_H_
