// The load generator behind inventory_bench --target: a cheap gRPC client
// that drives one unary method of a running server, either in a closed loop
// (a fixed number of calls in flight) or in an open loop (calls started on a
// fixed schedule, each timed from its scheduled start, as wrk2 does).
//
// Client design, chosen to spend as little CPU per call as gRPC allows:
//  * N completion queues, each drained by exactly one thread; every call is
//    started, completed and restarted on its queue's thread, so a call slot
//    and the thread's counters are never shared and nothing on the hot path
//    takes a contended lock.
//  * Requests go out as raw grpc::ByteBuffer: any method's requests
//    (kGeneric) are serialized once before the run and sent as slices that
//    point into that block; single-id requests are serialized once per id
//    before the run; requests that change per call
//    (batches, orders with a fresh order id) are assembled from pre-encoded
//    fields with a few memcpy into one slice (request_wire.h).
//  * Responses stay raw bytes; they are parsed only with --verify.
//  * Call slots are reused: with ClientApi::kCpp the ClientContext is
//    rebuilt in place (std::optional::emplace), and the response reader
//    lives in the call's arena; with kCore the send buffer and metadata
//    arrays are the slot's. The only per-call allocations are gRPC's own
//    (the call, its arena, the response's buffer; with kCpp the byte-buffer
//    copy it makes of the request) and, for requests that change per call,
//    the one slice that holds them.
//  * Unary calls go through gRPC's C API by default (ClientApi::kCore): the
//    method is registered once per channel (grpc_channel_register_call),
//    and each call is one grpc_channel_create_registered_call and one
//    grpc_call_start_batch of all six client operations on a core
//    completion queue, with the slot's send buffer, metadata arrays and
//    status reused from call to call. That skips the C++ layer's per-call
//    ClientContext, CallOpSet and interceptor machinery. The channels are
//    still made by grpc::CreateCustomChannel (same arguments, credentials
//    and TLS), and the calls are the same on the wire.
//  * ClientApi::kCpp, and every server-streaming call, go through
//    grpc::GenericStub (PrepareUnaryCall, StartCall, Finish with the call's
//    tag). Registering the method with each channel instead
//    (grpc::internal::RpcMethod, as generated stubs do, saving GenericStub's
//    per-call copy of the method name) was measured: no difference.
//  * A call completes through its slot's engine::Tag (engine/tag.h,
//    the one type that handles raw completion-queue tags): one virtual
//    call per completion, and no raw tag is cast here.
//  * The open loop runs on the same threads: each queue's thread owns every
//    n-th call of the schedule, blocks on its queue while the next call is
//    far off and busy-polls it for the last 1.5 ms (gRPC's deadlines have a
//    resolution of 1 ms). No sender thread: that cost two thread switches
//    per call.
#ifndef BENCH_LOAD_CLIENT_H_
#define BENCH_LOAD_CLIENT_H_

#include <grpcpp/security/credentials.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/latency_histogram.h"
#include "bench/load_ids.h"
#include "server/host/tls_credentials.h"

namespace bench {

// kGeneric: any unary method (LoadOptions::call_path), with requests
// serialized before the run (PrepareGenericRequests); the others are the
// project's own methods, with requests built from ids on the fly.
enum class LoadMethod { kGet, kBatch, kReserve, kProductGet, kPlaceOrder, kGeneric };

struct LoadMethodInfo {
  LoadMethod method;
  const char* flag;  // --method value
  const char* name;  // RPC name, used in benchmark names
  const char* path;  // HTTP/2 path
};

absl::StatusOr<LoadMethodInfo> LoadMethodFromFlag(absl::string_view flag);
// Not for kGeneric, whose name and path are the options' call_name and
// call_path.
const LoadMethodInfo& InfoOf(LoadMethod method);

enum class IdDistribution { kUniform, kZipf };

// Which of gRPC's APIs makes the unary calls (see the file comment).
// Server-streaming calls always use kCpp.
enum class ClientApi { kCpp, kCore };

struct LoadOptions {
  std::string target;  // host:port
  LoadMethod method = LoadMethod::kGet;
  int batch_size = 10;  // ids per batch
  int lines = 1;        // lines per order, quantity 1 each, distinct ids
  // Order ids are "<order_prefix>-<thread>-<n>": unique within a run; the
  // prefix makes them unique across runs.
  std::string order_prefix = "bench";
  // kGeneric: the method's HTTP/2 path ("/package.Service/Method") and its
  // name in reports ("package.Service/Method").
  std::string call_path;
  std::string call_name;
  // kGeneric: the method is server-streaming. Each call sends its one
  // request and half-closes, then reads every message until the server
  // ends the stream; the call's latency runs to its status (Finish).
  bool server_streaming = false;
  // Sent with every call, either kind of method.
  std::vector<std::pair<std::string, std::string>> metadata;

  IdDistribution distribution = IdDistribution::kUniform;
  double zipf_s = 0.99;
  std::uint64_t seed = 1;

  ClientApi client_api = ClientApi::kCore;
  int connections = 8;  // channels, each its own HTTP/2 connection
  int client_cqs = 1;   // completion queues, one thread each
  // Each queue's thread sends the calls it starts one after another in one
  // write per connection (engine/write_coalescing.h).
  bool coalesce_writes = true;
  // Closed loop (rate == 0): calls in flight in total.
  int inflight = 64;
  // Open loop: calls started per second in total; the calls outstanding
  // are capped at max_outstanding (further scheduled calls are sent late,
  // and still timed from their schedule).
  double rate = 0;
  int max_outstanding = 512;

  absl::Duration warmup = absl::Seconds(2);  // run, not recorded
  absl::Duration duration = absl::Seconds(10);
  // If > 0: the measured window ends once this many measured calls have
  // been started (and have completed), or at `duration`, whichever is
  // first. Each client queue starts its share (total / queues, the first
  // total % queues one more).
  std::uint64_t total = 0;
  absl::Duration deadline = absl::Seconds(5);  // per call
  bool verify = false;                         // parse and check every response
  // Extra channel arguments, "name=value" (integer if it parses as one).
  std::vector<std::string> channel_args;
  // Channel credentials, made from `tls` by server::host::MakeChannelCredentials;
  // null: plaintext. `tls` also adds its channel arguments (the server name
  // the certificate must carry) to every connection.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  server::host::ChannelTlsOptions tls;
  // One line per second on this stream while running; null for none.
  std::FILE* progress = nullptr;
  absl::Duration connect_timeout = absl::Seconds(10);
};

// gRPC status codes 0..16, and one more outcome: an OK response that failed
// --verify.
inline constexpr int kVerifyFailed = 17;
inline constexpr int kOutcomes = 18;
std::string OutcomeName(int outcome);  // "OK", "INVALID_ARGUMENT", ..., "VERIFY_FAILED"

// One interval of a run's measured window, for latency-over-time charts:
// the measured calls that started (or were scheduled to start) in it.
struct TimelineBucket {
  std::uint64_t calls = 0;
  std::uint64_t failed = 0;
  std::uint64_t max_ns = 0;
  double sum_ns = 0;
  // A coarse log histogram (4 buckets per power of two of microseconds, up
  // to 2^24 us): percentiles within 19%, enough for a chart.
  static constexpr int kCoarse = 100;
  std::array<std::uint32_t, kCoarse> coarse{};

  void Record(std::uint64_t ns, bool ok);
  void Merge(const TimelineBucket& other);
  // The upper bound of the coarse bucket holding quantile q (clamped to
  // max_ns); 0 when empty.
  std::uint64_t Percentile(double q) const;
};

struct LoadResult {
  // Every measured call that completed, successful or not: from its start
  // (closed loop) or from its scheduled start (open loop).
  LatencyHistogram latency_ns;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::array<std::uint64_t, kOutcomes> by_outcome{};
  std::array<std::string, kOutcomes> first_message;  // of each failing outcome
  // Open loop: calls scheduled in the measured window, and those of them
  // never sent because max_outstanding calls were still in flight when the
  // window ended (the target, or this client, could not keep up).
  std::uint64_t scheduled = 0;
  std::uint64_t unsent = 0;
  // get: OK answers saying "not available" (is_available false, quantity 0:
  // an id the target does not stock, or one out of stock). A run where every
  // answer is one measured look-up misses, not the store.
  std::uint64_t not_available = 0;
  double offered_rate = 0;  // open loop only
  // From the start of the measured window to the later of its end and the
  // last completion of a measured call (with `total` reached before the
  // window's end: to that last completion).
  absl::Duration elapsed;
  double client_cpu_seconds = 0;  // this process, over the measured window
  int items_per_call = 1;         // ids per batch, else 1
  // Server-streaming calls (options.server_streaming): messages received by
  // the measured calls (failed ones included), messages per measured call,
  // and each measured call's time to its first message (from its start, or
  // scheduled start; calls that got none are not in it).
  bool server_streaming = false;
  std::uint64_t messages = 0;
  LatencyHistogram messages_per_call;
  LatencyHistogram first_message_ns;
  // The measured window cut into intervals of timeline_interval (from
  // 100 ms up, at most about 500 of them), bucket i from i intervals after
  // the window's start.
  absl::Duration timeline_interval;
  std::vector<TimelineBucket> timeline;

  std::uint64_t completed() const { return succeeded + failed; }
  double calls_per_second() const;
  double error_ratio() const;
};

// Ids and requests prepared once and shared by every run (read-only while
// running).
class LoadRequests;

// Prepares `ids` for `options.method` (pre-encodes every id). Fails if an id
// cannot make a request (say, an order needs more distinct ids than exist).
absl::StatusOr<std::shared_ptr<const LoadRequests>> PrepareRequests(const LoadOptions& options,
                                                                    std::vector<std::string> ids);

// kGeneric: the serialized requests (at least one), sent as they are; each
// client queue's thread takes them in turn (thread t of T sends t, t+T,
// t+2T, ... modulo their count), so over a run each is sent about equally
// often. No per-call work beyond a slice that points into them. --verify
// is refused: the responses are not parsed.
absl::StatusOr<std::shared_ptr<const LoadRequests>> PrepareGenericRequests(
    const LoadOptions& options, const std::vector<std::string>& serialized);

// Connects options.connections channels to options.target (UNAVAILABLE if
// they are not all ready within connect_timeout), runs warm-up and measured
// window, drains, and returns what was measured. A call that fails is a
// result, not an error of RunLoad.
absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options, const LoadRequests& requests);

// The human-readable report of one run.
std::string FormatSummary(const LoadOptions& options, const LoadResult& result);

// The same report as one line of JSON (an object: method, target, shape,
// calls, rate, latency_us {p50, p90, p99, p99_9, max, mean}, codes [{code,
// count, first_message}], the histogram's rows, client CPU per call).
std::string FormatSummaryJson(const LoadOptions& options, const LoadResult& result);

// The same report as one CSV row under FormatSummaryCsvHeader(): codes as
// CODE=count;..., first messages as a JSON object {"CODE": "message"} (RFC
// 4180 quoting).
std::string FormatSummaryCsvHeader();
std::string FormatSummaryCsv(const LoadOptions& options, const LoadResult& result);

// One self-contained HTML page (no scripts, no fetches) reporting `runs`:
// per run a table of its figures, an inline SVG chart of latency over the
// measured window (p50, p99 and max per interval, log scale) and one of the
// latency distribution (calls per log-spaced latency bin).
std::string FormatHtmlReport(const std::vector<std::pair<LoadOptions, LoadResult>>& runs);

}  // namespace bench

#endif  // BENCH_LOAD_CLIENT_H_
