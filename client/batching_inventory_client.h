// An asynchronous InventoryService client that merges concurrent look-ups
// into BatchGetProductAvailability RPCs.
//
// Written for servers whose handlers run on completion-queue threads and
// must never block (the ProductService): Lookup() returns at once and the
// answer arrives in a callback.
//
//   client::BatchingInventoryClientOptions options;
//   options.target = "dns:///inventory:50051";
//   absl::StatusOr<std::unique_ptr<client::BatchingInventoryClient>> client =
//       client::BatchingInventoryClient::Create(options);
//   (*client)->Lookup("product123", absl::Now() + absl::Milliseconds(50),
//                     [](absl::StatusOr<client::LookupResult> result) { ... });
//
// How look-ups become RPCs (batching = true, the default):
//
//   * Idle: when no batch is in flight, a look-up is sent at once, as a batch
//     of one. Batching adds no waiting at low load.
//   * Busy: while at least one batch is in flight, look-ups gather in a FIFO
//     queue. The queue is sent as the next batch as soon as any of these
//     holds: it reaches `max_batch_size`; its oldest look-up has waited
//     `max_linger`; or every in-flight batch has finished. At most
//     `max_in_flight_batches` RPCs are in flight; look-ups queue meanwhile.
//   * Identical product ids in one batch are asked once; every caller gets
//     the answer for its own id.
//   * Each batch goes on the next of `channels` channels (round robin), each
//     its own HTTP/2 connection, skipping channels in TRANSIENT_FAILURE
//     while another is usable. Every channel load-balances over all
//     addresses of the target (`round_robin`) and retries UNAVAILABLE
//     attempts itself (a `retryPolicy` in its service config).
//
// With `batching = false` every look-up is one unary GetProductAvailability
// RPC, sent at once; this is the kill switch, and the baseline the batching
// gain is measured against. The callback interface is the same.
//
// Threading: the client owns `threads` completion queues with one thread
// each, or runs on queues its embedder drains (`completion_queues`, e.g. the
// server's own). Lookup(), LookupTicket::Cancel() and Stats() may be called
// from any thread, concurrently. No method blocks on the network or waits for another
// thread, except Shutdown() and the destructor.
#ifndef CLIENT_BATCHING_INVENTORY_CLIENT_H_
#define CLIENT_BATCHING_INVENTORY_CLIENT_H_

#include <grpcpp/completion_queue.h>
#include <grpcpp/security/credentials.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/lookup_result.h"
#include "domain/inventory/limits.h"

namespace client {

// Observes every RPC the client sends (batches, or unary look-ups with
// batching = false), e.g.
// to feed a metrics layer. Called outside the client's locks, on the thread
// that started or completed the RPC; must be thread-safe, cheap and never
// block. Default implementations do nothing.
class BatchListener {
 public:
  virtual ~BatchListener() = default;
  // A batch carrying `lookups` look-ups (`unique_ids` distinct ids on the
  // wire) was started.
  virtual void OnBatchSent(int lookups, int unique_ids) {}
  // That batch ended with `status` after `latency` (start to completion).
  virtual void OnBatchDone(int lookups, const absl::Status& status, absl::Duration latency) {}
  // With batching = false: a unary GetProductAvailability RPC was started,
  // and ended with `status` after `latency`.
  virtual void OnUnarySent() {}
  virtual void OnUnaryDone(const absl::Status& status, absl::Duration latency) {}
};

struct BatchingInventoryClientOptions {
  // gRPC target, e.g. "dns:///inventory:50051" or "127.0.0.1:50051". Every
  // address it resolves to is used (round_robin).
  std::string target;
  // Null means insecure (plaintext) channels.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // With TLS credentials: the name the server's certificate must carry,
  // instead of the target's host. Empty: the target's host.
  std::string ssl_target_name_override;

  // Channels, each with its own HTTP/2 connection per address; RPCs use
  // them in turn, skipping any in TRANSIENT_FAILURE. 2: two connections let the server parse frames
  // on two threads and keep a batch going while one connection is being replaced; batching divides
  // the RPC rate by the batch size, so more buys little.
  int channels = 2;
  // Completion queues, one thread each, that complete RPCs and run the
  // callbacks. 1: the client's own work per look-up is small next to the
  // server's, and one thread keeps the cores for the server that embeds it.
  // Ignored when `completion_queues` is set.
  int threads = 1;
  // Queues someone else drains instead, such as a server's
  // (engine::Engine::completion_queues()): the client then starts no thread,
  // and its RPC completions and callbacks run on the owner's threads, so a
  // handler's call is answered on the thread that got the inventory's reply.
  // The owner must hand every event to its engine::Tag
  // (engine::Tag::CompleteAllUntilShutdown, as the engine's threads do), keep draining until
  // Shutdown() has returned, and call Shutdown() before shutting the queues down
  // (Engine::RunBeforeQueuesClose).
  //
  // With more than one queue the client runs one lane per queue: a lane is
  // a whole batching client (its own queue of look-ups, batches and alarms)
  // whose RPCs complete on its queue. A look-up made on a thread that drains
  // one of the queues (a server handler) joins that queue's lane, so the
  // look-up, its batch's reply and the caller's answer all stay on one
  // thread, and the server's threads never contend for one lane's lock
  // (GetProduct +14% with batching, +3% without: docs/performance.md). Look-ups from other threads
  // are spread over the lanes in turn. max_queued_lookups and max_in_flight_batches apply per lane;
  // Stats() adds the lanes up.
  // Not owned. Empty (the default): the client makes `threads` of its own.
  std::vector<grpc::CompletionQueue*> completion_queues;

  // false: one unary GetProductAvailability per look-up (the kill switch).
  bool batching = true;
  // Most look-ups in one batch, 1..domain::inventory::kMaxBatchIds (the
  // service's limit, 1000). 100: large enough that
  // the per-RPC cost (HTTP/2 framing, completions, scheduling) is spread
  // over a hundred look-ups, small enough that a batch is serialized in
  // microseconds and one failed RPC fails at most 100 callers.
  int max_batch_size = 100;
  // Longest a queued look-up waits for more to join it while other batches
  // are in flight. 2 ms: far below the tens of milliseconds a caller's own
  // deadline typically allows, and about ten loopback batch round trips, so
  // under moderate load batches are cut by completions, not by the linger;
  // it bounds the wait when the server is slow. Zero sends whatever is
  // queued whenever fewer than max_in_flight_batches are in flight.
  absl::Duration max_linger = absl::Milliseconds(2);
  // Most BatchGetProductAvailability RPCs in flight at once. 4: enough to
  // keep a multi-core server busy while bounding what sits in the server to
  // 4 x max_batch_size look-ups; beyond that, look-ups wait in the client,
  // where they can still be merged, cancelled or expired cheaply.
  int max_in_flight_batches = 4;
  // Most look-ups waiting to be sent (in flight ones do not count; with
  // batching = false, the most unary RPCs in flight). Beyond it Lookup fails
  // with RESOURCE_EXHAUSTED. 10000: at 100,000 look-ups/s that is 100 ms of
  // backlog, past which failing fast serves callers better than queueing.
  int max_queued_lookups = 10000;

  // Attempts per RPC for UNAVAILABLE (gRPC's retryPolicy; 1..5, 1 disables
  // retries), with exponential backoff from `retry_initial_backoff` doubling
  // up to `retry_max_backoff` (gRPC adds jitter). 3 rides out one replaced
  // connection or restarted backend without amplifying an outage much.
  int retry_max_attempts = 3;
  absl::Duration retry_initial_backoff = absl::Milliseconds(10);
  absl::Duration retry_max_backoff = absl::Milliseconds(100);
  // Waits between reconnection attempts to a backend that went away.
  // gRPC's defaults (1 s growing to 120 s) can leave a restarted inventory
  // unused for minutes; 100 ms growing to 1 s finds it within about a second.
  absl::Duration initial_reconnect_backoff = absl::Milliseconds(100);
  absl::Duration max_reconnect_backoff = absl::Seconds(1);

  // Not owned; must outlive the client. Null: none.
  BatchListener* listener = nullptr;
};

// OK, or INVALID_ARGUMENT naming the first bad field.
absl::Status ValidateBatchingInventoryClientOptions(const BatchingInventoryClientOptions& options);

// The service config JSON each channel gets: round_robin load balancing and
// the retryPolicy for the inventory.InventoryService look-up methods.
std::string InventoryServiceConfigJson(const BatchingInventoryClientOptions& options);

// Upper bounds of the batch size histogram buckets: bucket i counts batches
// of (kBatchSizeBucketBounds[i-1], kBatchSizeBucketBounds[i]] look-ups.
// The last is the largest batch there can be.
inline constexpr std::array<int, 11> kBatchSizeBucketBounds = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, domain::inventory::kMaxBatchIds};

// A snapshot of the client's counters (monotonic unless marked as a gauge).
// Once nothing is pending:
//   lookups_requested == lookups_succeeded + sum of failed_*.
struct BatchingInventoryClientStats {
  std::int64_t lookups_requested = 0;  // Lookup() calls
  std::int64_t lookups_succeeded = 0;
  std::int64_t lookups_sent = 0;  // look-ups carried by an RPC (duplicates included)

  // Failed look-ups by cause.
  std::int64_t failed_invalid = 0;             // bad product id, rejected before queueing
  std::int64_t failed_resource_exhausted = 0;  // the queue was full
  std::int64_t failed_deadline_exceeded = 0;   // expired queued, before Lookup, or in the RPC
  std::int64_t failed_cancelled = 0;           // LookupTicket::Cancel, Shutdown
  std::int64_t failed_rpc_error = 0;           // any other RPC status (e.g. UNAVAILABLE)
  std::int64_t failed_shut_down = 0;           // Lookup() after Shutdown()

  std::int64_t rpcs_sent = 0;    // batches or, with batching = false, unary RPCs
  std::int64_t rpcs_failed = 0;  // ended with a status other than OK

  // Batching mode only.
  std::int64_t batches_sent = 0;
  std::int64_t batch_ids_sent = 0;  // distinct ids on the wire, over all batches
  std::int64_t batch_size_sum = 0;  // look-ups over all batches
  std::int64_t batch_size_max = 0;  // look-ups in the largest batch
  std::array<std::int64_t, kBatchSizeBucketBounds.size()> batch_size_buckets{};

  // Gauges.
  std::int64_t queue_depth = 0;     // look-ups waiting to be sent
  std::int64_t rpcs_in_flight = 0;  // batches, or unary RPCs
};

namespace internal {
class Lane;
struct LookupEntry;
}  // namespace internal

// Identifies one look-up so its caller can cancel it. Cheap to copy. Must
// not be used after its client is destroyed.
class LookupTicket {
 public:
  LookupTicket() = default;

  // If the look-up's callback has not run and is not running, runs it now,
  // on this thread, with CANCELLED, and returns true. A look-up still queued
  // is dropped from the queue and never sent; one already sent has its
  // answer ignored (and when every caller of a batch has cancelled, or of a
  // unary RPC, the RPC is cancelled too). Otherwise (already answered,
  // already cancelled, or the ticket of a look-up that failed inside
  // Lookup) returns false and does nothing. Thread-safe.
  bool Cancel();

 private:
  friend class internal::Lane;
  LookupTicket(internal::Lane* lane, internal::LookupEntry* entry, std::uint64_t generation)
      : lane_(lane), entry_(entry), generation_(generation) {}

  internal::Lane* lane_ = nullptr;
  internal::LookupEntry* entry_ = nullptr;
  std::uint64_t generation_ = 0;
};

class BatchingInventoryClient {
 public:
  // Creates the channels and starts the threads. INVALID_ARGUMENT for bad
  // options. Does not connect yet: the first RPC does.
  static absl::StatusOr<std::unique_ptr<BatchingInventoryClient>> Create(
      BatchingInventoryClientOptions options);

  BatchingInventoryClient(const BatchingInventoryClient&) = delete;
  BatchingInventoryClient& operator=(const BatchingInventoryClient&) = delete;
  // Shutdown(), then frees everything.
  ~BatchingInventoryClient();

  // Looks up `product_id`, answering by the absolute `deadline`
  // (absl::InfiniteFuture() for none). Never blocks. `callback` runs exactly
  // once:
  //
  //   * inline, on the calling thread, before Lookup returns, when the
  //     look-up fails at once: INVALID_ARGUMENT for an id the service would
  //     reject (empty, over 128 bytes, not UTF-8, control characters: the
  //     server's own ValidateProductId), DEADLINE_EXCEEDED when `deadline`
  //     has passed, RESOURCE_EXHAUSTED when max_queued_lookups are queued,
  //     UNAVAILABLE after Shutdown(). So never hold a lock the callback
  //     takes while calling Lookup;
  //   * inline, on the thread calling LookupTicket::Cancel, with CANCELLED;
  //   * otherwise on one of the client's threads, with the result, or
  //     DEADLINE_EXCEEDED the moment `deadline` passes while still queued,
  //     or the batch's RPC status (every caller of a failed batch gets the
  //     same status), or CANCELLED from Shutdown().
  //
  // Callbacks on the client's threads must not block: while one runs, no
  // other completion on its thread is handled. They may call Lookup and
  // Cancel, but not Shutdown or the destructor (that aborts).
  //
  // A batch is sent with the earliest deadline of its callers, so a caller
  // can see DEADLINE_EXCEEDED slightly before its own deadline when it shares
  // a batch with a caller whose deadline is earlier. A look-up found past its
  // deadline when its batch is formed (its alarm not yet handled) is left
  // out of the request and does not shorten the batch's deadline.
  LookupTicket Lookup(absl::string_view product_id, absl::Time deadline, LookupCallback callback);

  // Fails every queued look-up with CANCELLED, cancels every RPC in flight
  // (their callers get the RPC's status, normally CANCELLED), waits for every
  // outstanding completion-queue event, and joins the threads (with
  // `completion_queues`, waits for their owner to deliver the events and
  // for every completion handler to leave the client). Every callback has
  // run when it returns, and the client may be destroyed. Later Lookups fail
  // with UNAVAILABLE. Idempotent; a concurrent second call waits for the
  // first. Aborts when called from a callback of this client, or on a thread
  // that drains one of its borrowed queues: either would wait for itself.
  void Shutdown();

  BatchingInventoryClientStats Stats() const;
  const BatchingInventoryClientOptions& options() const;

 private:
  BatchingInventoryClient(BatchingInventoryClientOptions options,
                          std::vector<std::unique_ptr<internal::Lane>> lanes);

  // The lane of the queue this thread drains, or the next lane in turn.
  internal::Lane& LaneForThisThread() const;

  const BatchingInventoryClientOptions options_;
  // One per borrowed queue (options_.completion_queues[i] is lane i's), or
  // one for the client's own queues.
  std::vector<std::unique_ptr<internal::Lane>> lanes_;
  mutable std::atomic<std::size_t> next_lane_{0};
};

}  // namespace client

#endif  // CLIENT_BATCHING_INVENTORY_CLIENT_H_
