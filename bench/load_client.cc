#include "bench/load_client.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <grpc/slice_buffer.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "bench/open_loop.h"
#include "bench/request_wire.h"
#include "engine/tag.h"
#include "engine/write_coalescing.h"
#include "inventory.pb.h"
#include "product.pb.h"

// The C core channel under a grpc::Channel, for ClientApi::kCore.
// grpc::Channel keeps it private and names one friend, for gRPC's own tests:
// grpc::testing::ChannelTestPeer (gRPC's libraries define no such class).
// This is that class, and it only reads the pointer. Calling on the core of
// a channel made by grpc::CreateCustomChannel keeps every channel argument,
// the credentials (TLS with watched files included) and the user agent
// exactly as the C++ path has them. Pinned to gRPC 1.51's grpcpp/channel.h:
// should the friend go, this stops compiling rather than misbehaving.
namespace grpc::testing {
class ChannelTestPeer {
 public:
  static grpc_channel* CoreChannel(const grpc::Channel& channel) { return channel.c_channel_; }
};
}  // namespace grpc::testing

namespace bench {

// A request already serialized into a ByteBuffer, handed to gRPC without
// the copy that sending a ByteBuffer makes: Serialize swaps it into the
// call's send buffer (and leaves the caller's buffer empty).
struct SerializedRequest {
  grpc::ByteBuffer* bytes;
};

}  // namespace bench

template <>
class grpc::SerializationTraits<bench::SerializedRequest, void> {
 public:
  static grpc::Status Serialize(const bench::SerializedRequest& request, grpc::ByteBuffer* buffer,
                                bool* own_buffer) {
    buffer->Swap(request.bytes);
    *own_buffer = true;
    return grpc::Status();
  }
  static grpc::Status Deserialize(grpc::ByteBuffer*, bench::SerializedRequest*) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "requests are never received");
  }
};

namespace bench {

// Everything prepared before a run, read-only while it runs.
class LoadRequests {
 public:
  LoadMethod method;
  int batch_size = 1;
  int lines = 1;
  std::vector<std::string> ids;
  // Per id: its IdField (single-id requests, batches) or LineField (orders),
  // in one compact block (a per-id ByteBuffer would cost a cache miss per
  // call: measured, 5% of the client's CPU).
  wire::FieldTable fields;
  std::optional<IdSampler> sampler;
};

namespace {

constexpr LoadMethodInfo kMethods[] = {
    {LoadMethod::kGet, "get", "GetProductAvailability",
     "/inventory.InventoryService/GetProductAvailability"},
    {LoadMethod::kBatch, "batch", "BatchGetProductAvailability",
     "/inventory.InventoryService/BatchGetProductAvailability"},
    {LoadMethod::kReserve, "reserve", "ReserveStock", "/inventory.InventoryService/ReserveStock"},
    {LoadMethod::kProductGet, "product_get", "GetProduct", "/product.ProductService/GetProduct"},
    {LoadMethod::kPlaceOrder, "place_order", "PlaceOrder", "/product.ProductService/PlaceOrder"},
};

bool IsOrder(LoadMethod method) {
  return method == LoadMethod::kReserve || method == LoadMethod::kPlaceOrder;
}

bool IsSingle(LoadMethod method) {
  return method == LoadMethod::kGet || method == LoadMethod::kProductGet;
}

// A gRPC deadline `ns` nanoseconds from now (gRPC's own monotonic clock).
gpr_timespec FromNow(std::int64_t ns) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_nanos(std::max<std::int64_t>(ns, 0), GPR_TIMESPAN));
}

double ProcessCpuSeconds() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// A connection: a channel with arguments of its own (so it gets its own
// HTTP/2 connection) and either a generic stub on it that takes raw requests
// (ClientApi::kCpp, server-streaming) or its core channel with the method
// registered (ClientApi::kCore).
struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::TemplatedGenericStub<SerializedRequest, grpc::ByteBuffer>> stub;
  grpc_channel* core = nullptr;       // owned by `channel`
  void* registered_method = nullptr;  // grpc_channel_register_call's handle, for `core`
};

class Worker;

// One call at a time, reused for the whole run, owned by one worker. Its
// calls complete through `tag`: only Finish is ever started with it (one
// operation per call), so one kOperation tag serves every call of the slot.
struct Slot final : engine::CompletionHandler {
  explicit Slot(Worker* owner)
      : worker(owner), send_buffer(grpc_raw_byte_buffer_create(nullptr, 0)) {
    grpc_metadata_array_init(&recv_initial);
    grpc_metadata_array_init(&recv_trailing);
  }
  ~Slot() {
    ReleaseCoreCall();
    grpc_byte_buffer_destroy(send_buffer);
    grpc_metadata_array_destroy(&recv_initial);
    grpc_metadata_array_destroy(&recv_trailing);
  }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

  // ClientApi::kCore: what the finished call left that is not reused (its
  // response, status message and debug string, and the call itself).
  void ReleaseCoreCall() {
    if (recv_message != nullptr) grpc_byte_buffer_destroy(recv_message);
    recv_message = nullptr;
    grpc_slice_unref(status_details);
    status_details = grpc_empty_slice();
    gpr_free(const_cast<char*>(error_string));
    error_string = nullptr;
    if (call != nullptr) grpc_call_unref(call);
    call = nullptr;
  }

  // Hands the finished call to its worker (Worker::Finished), on the
  // worker's thread: the one virtual call per completion. A server-streaming
  // call takes several steps (Worker::Advance) before it is finished.
  void OnCompletion(engine::CompletionKind kind, bool ok) override;

  // Where a server-streaming call is: its request written (with the
  // half-close), then reading, then finishing. One operation at a time, so
  // the one tag serves every step.
  enum class Phase { kWriting, kReading, kFinishing };

  Worker* const worker;
  engine::Tag tag{this, engine::CompletionKind::kOperation};
  int connection = 0;
  std::optional<grpc::ClientContext> context;  // a context serves one call only
  // In the call's arena: must go before its context (declared after it).
  std::unique_ptr<grpc::ClientAsyncResponseReader<grpc::ByteBuffer>> reader;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<SerializedRequest, grpc::ByteBuffer>> stream;
  Phase phase = Phase::kWriting;
  std::uint64_t messages = 0;         // server-streaming: received so far
  std::int64_t first_message_ns = 0;  // when the first one came
  grpc::ByteBuffer request;           // requests that change per call
  grpc::ByteBuffer response;
  grpc::Status status;
  std::int64_t start_ns = 0;  // actual (closed loop) or scheduled (open loop) start
  bool measured = false;
  std::vector<std::uint32_t> ids;  // the ids asked for, in request order
  std::string order_id;            // with --verify, of order requests

  // ClientApi::kCore: the call while it is out, and what its one batch
  // sends and fills in. The send buffer and the metadata arrays are reused:
  // the batch moves the request's slices out of the buffer when it starts,
  // and a received array's elements belong to the call (its count is reset
  // before the next one).
  grpc_call* call = nullptr;
  grpc_byte_buffer* const send_buffer;
  grpc_metadata_array recv_initial;
  grpc_metadata_array recv_trailing;
  grpc_byte_buffer* recv_message = nullptr;  // the response; null if none came
  grpc_status_code core_status = GRPC_STATUS_OK;
  grpc_slice status_details = grpc_empty_slice();
  const char* error_string = nullptr;
};

// What a worker has seen; guarded by the worker's mutex (taken once per
// completion by its thread, once per second by the progress reporter).
struct Tally {
  LatencyHistogram latency_ns;
  std::uint64_t succeeded = 0;
  std::uint64_t not_available = 0;
  std::uint64_t failed = 0;
  std::array<std::uint64_t, kOutcomes> by_outcome{};
  std::array<std::string, kOutcomes> first_message;
  // Server-streaming calls only.
  std::uint64_t messages = 0;
  LatencyHistogram messages_per_call;
  LatencyHistogram first_message_ns;
  std::vector<TimelineBucket> timeline;
  std::int64_t last_completion_ns = 0;
  // Open loop, set once the worker stopped sending.
  std::uint64_t scheduled = 0;
  std::uint64_t unsent = 0;
  // Every completion, warm-up included, for the progress rate.
  std::uint64_t completions = 0;

  void Merge(const Tally& other) {
    latency_ns.Merge(other.latency_ns);
    succeeded += other.succeeded;
    not_available += other.not_available;
    failed += other.failed;
    for (int i = 0; i < kOutcomes; ++i) {
      by_outcome[i] += other.by_outcome[i];
      if (first_message[i].empty()) first_message[i] = other.first_message[i];
    }
    if (timeline.size() < other.timeline.size()) timeline.resize(other.timeline.size());
    for (std::size_t i = 0; i < other.timeline.size(); ++i) timeline[i].Merge(other.timeline[i]);
    messages += other.messages;
    messages_per_call.Merge(other.messages_per_call);
    first_message_ns.Merge(other.first_message_ns);
    last_completion_ns = std::max(last_completion_ns, other.last_completion_ns);
    scheduled += other.scheduled;
    unsent += other.unsent;
    completions += other.completions;
  }
};

struct Plan {
  Plan(const LoadOptions& options, const LoadRequests& requests)
      : options(options), requests(requests) {}
  const LoadOptions& options;
  const LoadRequests& requests;
  std::vector<Connection> connections;
  std::string path;
  // Unary calls through gRPC's C API (ClientApi::kCore, not streaming).
  bool core = false;
  int workers = 1;
  std::int64_t start_ns = 0;    // warm-up begins
  std::int64_t measure_ns = 0;  // measured window begins
  std::int64_t end_ns = 0;      // no call starts at or after this
  std::int64_t deadline_ns = 0;
  std::int64_t timeline_ns = 0;  // LoadResult::timeline_interval
  std::size_t timeline_buckets = 0;
  std::int64_t drain_limit_ns = 0;  // calls still out then are cancelled
  // Workers done (every call drained); with options.total, the run may end
  // before end_ns.
  mutable std::atomic<int> finished_workers{0};
};

// Null if an OK response (`bytes`) is what the request asked for; else what
// is wrong.
const char* Verify(const LoadRequests& r, const Slot& slot, const grpc::Slice& bytes) {
  const auto* data = reinterpret_cast<const char*>(bytes.begin());
  const int size = static_cast<int>(bytes.size());
  auto stock_ok = [](bool available, std::int32_t quantity) {
    return quantity >= 0 && available == (quantity > 0);
  };
  switch (r.method) {
    case LoadMethod::kGet: {
      inventory::GetProductAvailabilityResponse response;
      if (!response.ParseFromArray(data, size)) return "response does not parse";
      if (!stock_ok(response.is_available(), response.quantity())) {
        return "is_available and quantity disagree";
      }
      return nullptr;
    }
    case LoadMethod::kBatch: {
      inventory::BatchGetProductAvailabilityResponse response;
      if (!response.ParseFromArray(data, size)) return "response does not parse";
      if (response.items_size() != static_cast<int>(slot.ids.size())) {
        return "not one item per requested id";
      }
      for (int i = 0; i < response.items_size(); ++i) {
        const auto& item = response.items(i);
        if (item.product_id() != r.ids[slot.ids[i]]) return "items not in request order";
        if (!stock_ok(item.is_available(), item.quantity())) {
          return "is_available and quantity disagree";
        }
      }
      return nullptr;
    }
    case LoadMethod::kReserve: {
      inventory::ReserveStockResponse response;
      if (!response.ParseFromArray(data, size)) return "response does not parse";
      if (response.remaining_size() != static_cast<int>(slot.ids.size())) {
        return "not one remaining quantity per line";
      }
      for (int i = 0; i < response.remaining_size(); ++i) {
        if (response.remaining(i).product_id() != r.ids[slot.ids[i]]) {
          return "remaining quantities not in line order";
        }
        if (response.remaining(i).quantity() < 0) return "negative remaining quantity";
      }
      return nullptr;
    }
    case LoadMethod::kProductGet: {
      product::GetProductResponse response;
      if (!response.ParseFromArray(data, size)) return "response does not parse";
      if (response.product_id() != r.ids[slot.ids[0]]) return "another product was returned";
      if (!stock_ok(response.is_available(), response.quantity())) {
        return "is_available and quantity disagree";
      }
      return nullptr;
    }
    case LoadMethod::kGeneric:
      return nullptr;  // never verified (PrepareGenericRequests)
    case LoadMethod::kPlaceOrder: {
      product::PlaceOrderResponse response;
      if (!response.ParseFromArray(data, size)) return "response does not parse";
      if (response.order_id() != slot.order_id) return "another order_id was returned";
      if (response.lines_size() != static_cast<int>(slot.ids.size())) {
        return "not one line per ordered line";
      }
      return nullptr;
    }
  }
  return nullptr;
}

// Builds requests and starts calls; one per thread that starts calls, so
// its generator and order counter are never shared.
class CallStarter {
 public:
  CallStarter(const Plan& plan, const std::string& thread_label, std::uint64_t stream)
      : plan_(plan),
        core_metadata_(CoreMetadata(plan.options)),
        rng_(plan.options.seed * 0x9e3779b97f4a7c15ULL + stream),
        order_prefix_(absl::StrCat(plan.options.order_prefix, "-", thread_label, "-")),
        next_request_(plan.requests.fields.size() == 0
                          ? 0
                          : static_cast<std::size_t>(stream % plan.requests.fields.size())) {}

  // Starts the next call on `slot`, completing on `cq` (or on `core_cq`
  // with plan.core), timed from start_ns.
  void Start(Slot& slot, grpc::CompletionQueue* cq, grpc_completion_queue* core_cq,
             std::int64_t start_ns) {
    grpc_slice bytes = BuildRequest(slot);
    // Set before the call starts: its completion may be handled at once, on
    // another thread.
    slot.start_ns = start_ns;
    slot.measured = start_ns >= plan_.measure_ns && start_ns < plan_.end_ns;
    if (plan_.core) {
      StartCore(slot, core_cq, bytes);
      return;
    }
    {
      grpc::Slice slice(bytes, grpc::Slice::STEAL_REF);
      grpc::ByteBuffer fresh(&slice, 1);
      slot.request.Swap(&fresh);
    }
    const SerializedRequest request{&slot.request};
    slot.reader.reset();
    slot.stream.reset();
    slot.context.emplace();
    slot.context->set_deadline(FromNow(plan_.deadline_ns));
    for (const auto& [key, value] : plan_.options.metadata) slot.context->AddMetadata(key, value);
    if (plan_.options.server_streaming) {
      // The initial metadata is held back (corked) and goes out with the
      // request and the half-close in one batch: StartCall completes no
      // tag, the write does.
      slot.context->set_initial_metadata_corked(true);
      slot.messages = 0;
      slot.first_message_ns = 0;
      slot.phase = Slot::Phase::kWriting;
      slot.stream =
          plan_.connections[slot.connection].stub->PrepareCall(&*slot.context, plan_.path, cq);
      slot.stream->StartCall(slot.tag.ToCompletionQueueTag());
      slot.stream->Write(request, grpc::WriteOptions().set_last_message(),
                         slot.tag.ToCompletionQueueTag());
      return;
    }
    slot.reader = plan_.connections[slot.connection].stub->PrepareUnaryCall(
        &*slot.context, plan_.path, request, cq);
    slot.reader->StartCall();
    slot.reader->Finish(&slot.response, &slot.status, slot.tag.ToCompletionQueueTag());
  }

 private:
  // --metadata as the C API takes it: slices that point into the options'
  // strings (alive for the whole run). One copy per starter, so no two
  // threads ever hand gRPC the same array.
  static std::vector<grpc_metadata> CoreMetadata(const LoadOptions& options) {
    std::vector<grpc_metadata> metadata;
    for (const auto& [key, value] : options.metadata) {
      grpc_metadata& md = metadata.emplace_back();
      std::memset(&md, 0, sizeof(md));
      md.key = grpc_slice_from_static_buffer(key.data(), key.size());
      md.value = grpc_slice_from_static_buffer(value.data(), value.size());
    }
    return metadata;
  }

  // A unary call through the C API: the registered method, the deadline
  // and one batch of all six client operations, completing on the slot's
  // tag. `bytes` (one reference) goes to the call.
  void StartCore(Slot& slot, grpc_completion_queue* cq, grpc_slice bytes) {
    const Connection& connection = plan_.connections[slot.connection];
    slot.call = grpc_channel_create_registered_call(
        connection.core, nullptr, GRPC_PROPAGATE_DEFAULTS, cq, connection.registered_method,
        FromNow(plan_.deadline_ns), nullptr);
    // The previous batch moved its slices out; the API promises only
    // "likely empty", so make sure before adding this call's.
    grpc_slice_buffer* const send = &slot.send_buffer->data.raw.slice_buffer;
    if (send->count > 0) grpc_slice_buffer_reset_and_unref(send);
    grpc_slice_buffer_add(send, bytes);
    slot.recv_initial.count = 0;
    slot.recv_trailing.count = 0;
    grpc_op ops[6];
    std::memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = core_metadata_.size();
    ops[0].data.send_initial_metadata.metadata = core_metadata_.data();
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = slot.send_buffer;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &slot.recv_initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &slot.recv_message;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &slot.recv_trailing;
    ops[5].data.recv_status_on_client.status = &slot.core_status;
    ops[5].data.recv_status_on_client.status_details = &slot.status_details;
    ops[5].data.recv_status_on_client.error_string = &slot.error_string;
    const grpc_call_error error = grpc_call_start_batch(slot.call, ops, std::size(ops),
                                                        slot.tag.ToCompletionQueueTag(), nullptr);
    if (error != GRPC_CALL_OK) {
      // As the C++ API does (it asserts): a batch refused is a bug here, or
      // metadata gRPC will not send.
      std::fprintf(stderr, "inventory_bench: gRPC refused a call's batch: %s\n",
                   grpc_call_error_to_string(error));
      std::abort();
    }
  }

  // The next request for `slot`, as one slice (one reference, the caller's):
  // a single-id request is its pre-encoded id field (copied into the slice
  // itself when it fits, 23 bytes); the others are assembled into one fresh
  // slice.
  grpc_slice BuildRequest(Slot& slot) {
    const LoadRequests& r = plan_.requests;
    slot.ids.clear();
    if (r.method == LoadMethod::kGeneric) {
      // The bytes stay put for the whole run: a slice that points at them,
      // no copy and no allocation.
      const absl::string_view bytes = r.fields.Get(next_request_);
      next_request_ = (next_request_ + static_cast<std::size_t>(plan_.workers)) % r.fields.size();
      return grpc_slice_from_static_buffer(bytes.data(), bytes.size());
    }
    if (IsSingle(r.method)) {
      const std::uint64_t id = r.sampler->Next(rng_);
      slot.ids.push_back(static_cast<std::uint32_t>(id));
      const absl::string_view field = r.fields.Get(id);
      return grpc_slice_from_copied_buffer(field.data(), field.size());
    }
    std::size_t size = 0;
    char digits[24];
    std::size_t digit_count = 0;
    if (r.method == LoadMethod::kBatch) {
      for (int i = 0; i < r.batch_size; ++i) {
        const std::uint64_t id = r.sampler->Next(rng_);
        slot.ids.push_back(static_cast<std::uint32_t>(id));
        size += r.fields.Get(id).size();
      }
    } else {
      // Distinct products per order (the store refuses a repeated one).
      while (static_cast<int>(slot.ids.size()) < r.lines) {
        const auto id = static_cast<std::uint32_t>(r.sampler->Next(rng_));
        if (std::find(slot.ids.begin(), slot.ids.end(), id) != slot.ids.end()) continue;
        slot.ids.push_back(id);
        size += r.fields.Get(id).size();
      }
      digit_count = static_cast<std::size_t>(
          std::to_chars(digits, digits + sizeof(digits), order_seq_++).ptr - digits);
      size += wire::LengthDelimitedSize(order_prefix_.size() + digit_count);
    }
    grpc_slice bytes = grpc_slice_malloc(size);
    char* out = reinterpret_cast<char*>(GRPC_SLICE_START_PTR(bytes));
    if (IsOrder(r.method)) {
      *out++ = wire::LengthDelimitedTag(1);
      out = wire::PutVarint(out, order_prefix_.size() + digit_count);
      std::memcpy(out, order_prefix_.data(), order_prefix_.size());
      out += order_prefix_.size();
      std::memcpy(out, digits, digit_count);
      out += digit_count;
      if (plan_.options.verify) slot.order_id.assign(order_prefix_).append(digits, digit_count);
    }
    for (std::uint32_t id : slot.ids) {
      const absl::string_view field = r.fields.Get(id);
      std::memcpy(out, field.data(), field.size());
      out += field.size();
    }
    return bytes;
  }

  const Plan& plan_;
  std::vector<grpc_metadata> core_metadata_;
  Rng rng_;
  const std::string order_prefix_;
  std::uint64_t order_seq_ = 0;
  std::size_t next_request_;  // kGeneric: the next request to send
};

// A completion queue and the one thread that drains it.
class Worker {
 public:
  Worker(const Plan& plan, int index)
      : plan_(plan),
        index_(index),
        core_cq_(plan.core ? grpc_completion_queue_create_for_next(nullptr) : nullptr),
        starter_(plan, absl::StrCat(index), index),
        quota_(plan.options.total == 0
                   ? std::numeric_limits<std::uint64_t>::max()
                   : plan.options.total / static_cast<std::uint64_t>(plan.workers) +
                         (static_cast<std::uint64_t>(index) <
                                  plan.options.total % static_cast<std::uint64_t>(plan.workers)
                              ? 1
                              : 0)) {
    tally_.timeline.resize(plan.timeline_buckets);
  }

  void Run() {
    engine::ScopedWriteCoalescing coalescing(plan_.options.coalesce_writes);
    if (plan_.options.rate > 0) {
      RunOpenLoop();
    } else {
      RunClosedLoop();
    }
    Drain();
    bool ok;
    if (core_cq_ != nullptr) {
      // Every call has completed and been released (Drain): nothing is left
      // but the shutdown event.
      grpc_completion_queue_shutdown(core_cq_);
      bool shut_down = false;
      while (!shut_down) {
        engine::Tag::NextFromCoreQueue(core_cq_, gpr_inf_future(GPR_CLOCK_MONOTONIC), &ok,
                                       &shut_down);
      }
      grpc_completion_queue_destroy(core_cq_);
      core_cq_ = nullptr;
    }
    cq_.Shutdown();
    while (engine::Tag::Next(&cq_, &ok) != nullptr) {
    }
    plan_.finished_workers.fetch_add(1, std::memory_order_release);
  }

  // Closed loop: keeps its share of the calls in flight until the window
  // ends.
  void RunClosedLoop() {
    const int total = plan_.options.inflight;
    const int mine = total / plan_.workers + (index_ < total % plan_.workers ? 1 : 0);
    // From start_ns on, not before: with no warm-up, the first calls are
    // measured ones (a server's own count then equals the tool's).
    SleepUntilNs(plan_.start_ns);
    const std::int64_t now = std::max(MonotonicNowNs(), plan_.start_ns);
    for (int i = 0; i < mine; ++i) {
      if (!Begin(*NewSlot(static_cast<std::size_t>(i)), now)) break;
    }
    bool ok = false;
    while (outstanding_ > 0) {
      engine::Tag* tag =
          core_cq_ != nullptr
              ? engine::Tag::NextFromCoreQueue(core_cq_, gpr_inf_future(GPR_CLOCK_MONOTONIC), &ok)
              : engine::Tag::Next(&cq_, &ok);
      if (tag == nullptr) break;  // never before Shutdown
      Slot* slot = CompleteCall(tag, ok);
      if (slot == nullptr) continue;  // a streaming call's step
      const std::int64_t done = finished_ns_;
      if (done >= plan_.end_ns || !Begin(*slot, done)) break;
    }
  }

  // Open loop: this worker's share of the schedule, calls k = n * workers +
  // index, each started when due and timed from then. The worker sends late
  // only when its share of max_outstanding calls is out; at the end of the
  // window, what it could not send is counted as unsent. It blocks on its
  // queue while the next call is far off, and busy-polls it for the last
  // stretch before a call is due: gRPC's deadlines have a resolution of 1
  // ms, too coarse to send on schedule. (Measured alternatives: a separate
  // sender thread costs two thread switches per call, and on one core
  // topped out at 44k calls/s; yielding the CPU between polls hands a
  // shared core to any busy process for a whole time slice.) So from about
  // 700 calls/s per queue up, the worker keeps its core busy: pin the bench
  // away from the server.
  void RunOpenLoop() {
    constexpr std::int64_t kPollWindowNs = 1'500'000;
    const OpenLoopSchedule schedule(plan_.start_ns, plan_.options.rate);
    const std::uint64_t workers = static_cast<std::uint64_t>(plan_.workers);
    const auto due = [&](std::uint64_t n) {
      return schedule.Due(n * workers + static_cast<std::uint64_t>(index_));
    };
    const std::size_t cap = static_cast<std::size_t>(
        std::max(1, plan_.options.max_outstanding / plan_.workers +
                        (index_ < plan_.options.max_outstanding % plan_.workers ? 1 : 0)));
    std::vector<Slot*> idle;
    std::uint64_t n = 0;
    std::uint64_t sent_measured = 0;
    bool quota_reached = false;
    while (!quota_reached) {
      const std::int64_t now = MonotonicNowNs();
      for (std::int64_t at = due(n); at < plan_.end_ns && at <= now; at = due(n)) {
        Slot* slot = nullptr;
        if (!idle.empty()) {
          slot = idle.back();
          idle.pop_back();
        } else if (slots_.size() < cap) {
          slot = NewSlot(slots_.size());
        } else {
          break;  // behind schedule: wait for a completion
        }
        if (!Begin(*slot, at)) {
          idle.push_back(slot);
          quota_reached = true;
          break;
        }
        if (slot->measured) ++sent_measured;
        ++n;
      }
      if (quota_reached) break;
      if (now >= plan_.end_ns) break;
      const bool can_send = !idle.empty() || slots_.size() < cap;
      const std::int64_t wake = can_send ? std::min(due(n), plan_.end_ns) : plan_.end_ns;
      Slot* done = nullptr;
      if (wake - now > kPollWindowNs) {
        done = Await(wake - kPollWindowNs);
      } else {
        done = Poll();
      }
      if (done != nullptr) idle.push_back(done);
    }
    std::uint64_t unsent = 0;
    for (std::uint64_t k = n; !quota_reached && due(k) < plan_.end_ns; ++k) {
      if (due(k) >= plan_.measure_ns) ++unsent;
    }
    std::lock_guard<std::mutex> lock(mu_);
    tally_.scheduled = sent_measured + unsent;
    tally_.unsent = unsent;
  }

  // Waits for every call still out; past the drain limit, cancels them
  // (they then complete as CANCELLED).
  void Drain() {
    bool cancelled = false;
    while (outstanding_ > 0) {
      if (Await(cancelled ? MonotonicNowNs() + 1'000'000'000 : plan_.drain_limit_ns) != nullptr) {
        continue;
      }
      if (!cancelled && MonotonicNowNs() >= plan_.drain_limit_ns) {
        for (Slot& slot : slots_) {
          if (slot.call != nullptr) grpc_call_cancel(slot.call, nullptr);
          if (slot.context.has_value()) slot.context->TryCancel();
        }
        cancelled = true;
      }
    }
  }

  void AddTo(Tally& total) {
    std::lock_guard<std::mutex> lock(mu_);
    total.Merge(tally_);
  }

  // A call of `slot` finished (reached through its tag, on this worker's
  // thread): records it, and leaves slot and time in finished_ and
  // finished_ns_ for the loop that took the completion (CompleteCall).
  void Finished(Slot& slot, bool ok) {
    finished_ns_ = MonotonicNowNs();
    Complete(slot, ok, finished_ns_);
    finished_ = &slot;
  }

  // A step of a server-streaming call completed: starts its next one, or,
  // once Finish is done, finishes the call.
  void Advance(Slot& slot, bool ok) {
    void* tag = slot.tag.ToCompletionQueueTag();
    switch (slot.phase) {
      case Slot::Phase::kWriting:
        // A failed write means the call is over: its status says why.
        if (ok) {
          slot.phase = Slot::Phase::kReading;
          slot.stream->Read(&slot.response, tag);
          return;
        }
        break;
      case Slot::Phase::kReading:
        if (ok) {
          if (slot.messages++ == 0) slot.first_message_ns = MonotonicNowNs();
          slot.response.Clear();
          slot.stream->Read(&slot.response, tag);
          return;
        }
        break;
      case Slot::Phase::kFinishing:
        Finished(slot, true);
        return;
    }
    slot.phase = Slot::Phase::kFinishing;
    slot.stream->Finish(&slot.status, tag);
  }

 private:
  // A new call slot; spread over connections: worker w's i-th slot is
  // global slot w + i * workers.
  Slot* NewSlot(std::size_t i) {
    Slot& slot = slots_.emplace_back(this);
    slot.connection = static_cast<int>((static_cast<std::size_t>(index_) + i * plan_.workers) %
                                       plan_.connections.size());
    slot.ids.reserve(std::max(plan_.requests.batch_size, plan_.requests.lines));
    return &slot;
  }

  // Starts a call on `slot`; false (and nothing started) if it would be
  // measured and this worker's share of options.total has been started.
  bool Begin(Slot& slot, std::int64_t start_ns) {
    if (start_ns >= plan_.measure_ns && measured_started_ >= quota_) return false;
    ++outstanding_;
    starter_.Start(slot, &cq_, core_cq_, start_ns);
    if (slot.measured) ++measured_started_;
    return true;
  }

  // A completion already there (or made ready by one non-blocking poll of
  // the connections), recorded; null if none.
  Slot* Poll() {
    bool ok = false;
    engine::Tag* tag = NextBy(gpr_inf_past(GPR_CLOCK_MONOTONIC), &ok);
    return tag == nullptr ? nullptr : CompleteCall(tag, ok);
  }

  // Waits for one completion until `until_ns` and records it. Returns its
  // slot, or null on timeout.
  Slot* Await(std::int64_t until_ns) {
    bool ok = false;
    engine::Tag* tag = NextBy(FromNow(until_ns - MonotonicNowNs()), &ok);
    return tag == nullptr ? nullptr : CompleteCall(tag, ok);
  }

  // The next event of this worker's queue (the core one with plan.core)
  // until `deadline`; null on timeout.
  engine::Tag* NextBy(gpr_timespec deadline, bool* ok) {
    if (core_cq_ != nullptr) return engine::Tag::NextFromCoreQueue(core_cq_, deadline, ok);
    return engine::Tag::AsyncNext(&cq_, deadline, ok);
  }

  // Completes the call `tag` belongs to (its slot hands it to Finished) and
  // returns the call's slot. Every tag on this queue is a slot's.
  Slot* CompleteCall(engine::Tag* tag, bool ok) {
    finished_ = nullptr;  // stays null for a step of a streaming call
    tag->Complete(ok);
    return finished_;
  }

  // The response as one slice; false if there is none to read.
  bool ResponseBytes(const Slot& slot, grpc::Slice* bytes) const {
    if (!plan_.core) return slot.response.DumpToSingleSlice(bytes).ok();
    if (slot.recv_message == nullptr) return false;
    grpc_byte_buffer_reader reader;
    if (grpc_byte_buffer_reader_init(&reader, slot.recv_message) == 0) return false;
    *bytes = grpc::Slice(grpc_byte_buffer_reader_readall(&reader), grpc::Slice::STEAL_REF);
    grpc_byte_buffer_reader_destroy(&reader);
    return true;
  }

  std::string StatusMessage(const Slot& slot) const {
    if (!plan_.core) return slot.status.error_message();
    return std::string(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slot.status_details)),
                       GRPC_SLICE_LENGTH(slot.status_details));
  }

  void Complete(Slot& slot, bool ok, std::int64_t now) {
    int outcome = plan_.core ? static_cast<int>(slot.core_status) : slot.status.error_code();
    const char* verify_problem = nullptr;
    // Finish (and a batch that receives the status) is always ok.
    if (!ok && outcome == 0) outcome = grpc::StatusCode::UNKNOWN;
    if (outcome == 0 && plan_.options.verify) {
      grpc::Slice bytes;
      verify_problem =
          ResponseBytes(slot, &bytes) ? Verify(plan_.requests, slot, bytes) : "unreadable response";
      if (verify_problem != nullptr) outcome = kVerifyFailed;
    }
    // {false, 0} is the only GetProductAvailabilityResponse that encodes to
    // no bytes, so a miss is seen without parsing.
    const std::size_t response_length =
        plan_.core ? (slot.recv_message == nullptr ? 0 : grpc_byte_buffer_length(slot.recv_message))
                   : slot.response.Length();
    const bool not_available =
        outcome == 0 && plan_.requests.method == LoadMethod::kGet && response_length == 0;
    slot.response.Clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++tally_.completions;
      if (slot.measured) {
        const auto latency =
            static_cast<std::uint64_t>(std::max<std::int64_t>(now - slot.start_ns, 0));
        tally_.latency_ns.Record(latency);
        const auto bucket =
            static_cast<std::size_t>((slot.start_ns - plan_.measure_ns) / plan_.timeline_ns);
        if (bucket < tally_.timeline.size()) tally_.timeline[bucket].Record(latency, outcome == 0);
        ++tally_.by_outcome[outcome];
        if (plan_.options.server_streaming) {
          tally_.messages += slot.messages;
          tally_.messages_per_call.Record(slot.messages);
          if (slot.messages > 0) {
            tally_.first_message_ns.Record(static_cast<std::uint64_t>(
                std::max<std::int64_t>(slot.first_message_ns - slot.start_ns, 0)));
          }
        }
        if (outcome == 0) {
          ++tally_.succeeded;
          if (not_available) ++tally_.not_available;
        } else {
          ++tally_.failed;
          std::string& message = tally_.first_message[outcome];
          if (message.empty()) {
            message = verify_problem != nullptr ? verify_problem : StatusMessage(slot);
            if (message.empty()) message = "(no message)";
          }
        }
        tally_.last_completion_ns = std::max(tally_.last_completion_ns, now);
      }
    }
    if (plan_.core) slot.ReleaseCoreCall();
    --outstanding_;
  }

  const Plan& plan_;
  const int index_;
  grpc::CompletionQueue cq_;
  // plan.core: the queue the calls complete on (cq_ then has none); null
  // once shut down and drained.
  grpc_completion_queue* core_cq_;
  CallStarter starter_;
  const std::uint64_t quota_;  // measured calls this worker may start
  std::uint64_t measured_started_ = 0;
  std::deque<Slot> slots_;  // stable addresses
  int outstanding_ = 0;
  Slot* finished_ = nullptr;  // the last call Finished, and when
  std::int64_t finished_ns_ = 0;
  std::mutex mu_;
  Tally tally_;
};

void Slot::OnCompletion(engine::CompletionKind, bool ok) {
  if (stream != nullptr) {
    worker->Advance(*this, ok);
  } else {
    worker->Finished(*this, ok);
  }
}

// "name=value": an integer argument if value parses as one, else a string.
absl::Status AddChannelArg(grpc::ChannelArguments& args, absl::string_view spec) {
  const std::size_t eq = spec.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("channel argument '", spec, "' is not name=value"));
  }
  const std::string name(spec.substr(0, eq));
  const absl::string_view value = spec.substr(eq + 1);
  int number = 0;
  if (absl::SimpleAtoi(value, &number)) {
    args.SetInt(name, number);
  } else {
    args.SetString(name, std::string(value));
  }
  return absl::OkStatus();
}

std::string FormatRate(double per_second) { return absl::StrFormat("%.0f", per_second); }

// The distribution as text: HistogramRows, each with a bar scaled to the
// fullest row.
// The histogram's rows: log-spaced upper bounds (ns) from the smallest
// latency (at least 1 us) to the largest, each with its count; the counts
// add up to h.count().
std::vector<std::pair<double, std::uint64_t>> HistogramRows(const LatencyHistogram& h) {
  std::vector<std::pair<double, std::uint64_t>> bins;
  if (h.count() == 0) return bins;
  constexpr int kRows = 10;
  const double low = std::max(static_cast<double>(h.min()), 1000.0);
  const double high = std::max(static_cast<double>(h.max()), low);
  const int rows = high > low ? kRows : 1;
  std::uint64_t below = 0;
  for (int i = 1; i <= rows; ++i) {
    const double edge =
        i == rows ? high : low * std::pow(high / low, static_cast<double>(i) / rows);
    const std::uint64_t at_or_below = h.CountAtOrBelow(static_cast<std::uint64_t>(edge));
    bins.emplace_back(edge, at_or_below - below);
    below = at_or_below;
  }
  return bins;
}

std::string MethodName(const LoadOptions& options) {
  return options.method == LoadMethod::kGeneric ? options.call_name
                                                : std::string(InfoOf(options.method).name);
}

std::string CsvField(absl::string_view text) {
  if (text.find_first_of(",\"\n\r") == absl::string_view::npos) return std::string(text);
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

std::string HistogramText(const LatencyHistogram& h) {
  if (h.count() == 0) return "";
  constexpr int kWidth = 40;
  const std::vector<std::pair<double, std::uint64_t>> bins = HistogramRows(h);
  std::uint64_t fullest = 1;
  for (const auto& bin : bins) fullest = std::max(fullest, bin.second);
  std::string out = "  histogram  latency us <= bound: calls\n";
  for (const auto& [edge, count] : bins) {
    const int bar = static_cast<int>(
        std::lround(kWidth * static_cast<double>(count) / static_cast<double>(fullest)));
    absl::StrAppend(&out, absl::StrFormat("    <= %10.1f %10d |%s\n", edge / 1e3, count,
                                          std::string(static_cast<std::size_t>(bar), '#')));
  }
  return out;
}

std::string Micros(std::uint64_t ns) {
  return absl::StrFormat("%.1f", static_cast<double>(ns) / 1e3);
}

}  // namespace

absl::StatusOr<LoadMethodInfo> LoadMethodFromFlag(absl::string_view flag) {
  for (const LoadMethodInfo& info : kMethods) {
    if (flag == info.flag) return info;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown --method '", flag, "': get, batch, reserve, product_get or place_order"));
}

const LoadMethodInfo& InfoOf(LoadMethod method) {
  for (const LoadMethodInfo& info : kMethods) {
    if (info.method == method) return info;
  }
  return kMethods[0];
}

std::string OutcomeName(int outcome) {
  static constexpr const char* kNames[kOutcomes] = {"OK",
                                                    "CANCELLED",
                                                    "UNKNOWN",
                                                    "INVALID_ARGUMENT",
                                                    "DEADLINE_EXCEEDED",
                                                    "NOT_FOUND",
                                                    "ALREADY_EXISTS",
                                                    "PERMISSION_DENIED",
                                                    "RESOURCE_EXHAUSTED",
                                                    "FAILED_PRECONDITION",
                                                    "ABORTED",
                                                    "OUT_OF_RANGE",
                                                    "UNIMPLEMENTED",
                                                    "INTERNAL",
                                                    "UNAVAILABLE",
                                                    "DATA_LOSS",
                                                    "UNAUTHENTICATED",
                                                    "VERIFY_FAILED"};
  return outcome >= 0 && outcome < kOutcomes ? kNames[outcome] : absl::StrCat("CODE_", outcome);
}

double LoadResult::calls_per_second() const {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? static_cast<double>(succeeded) / seconds : 0;
}

double LoadResult::error_ratio() const {
  return completed() == 0 ? 1.0 : static_cast<double>(failed) / static_cast<double>(completed());
}

absl::StatusOr<std::shared_ptr<const LoadRequests>> PrepareRequests(const LoadOptions& options,
                                                                    std::vector<std::string> ids) {
  if (ids.empty()) return absl::InvalidArgumentError("no product ids to ask for");
  if (ids.size() > std::numeric_limits<std::uint32_t>::max()) {
    return absl::InvalidArgumentError("too many product ids (at most 2^32 - 1)");
  }
  grpc_init();  // once per process; never shut down (the process exits)
  auto requests = std::make_shared<LoadRequests>();
  requests->method = options.method;
  requests->batch_size = options.batch_size;
  requests->lines = options.lines;
  if (options.method == LoadMethod::kBatch && options.batch_size < 1) {
    return absl::InvalidArgumentError("--batch_size must be >= 1");
  }
  if (IsOrder(options.method)) {
    if (options.lines < 1) return absl::InvalidArgumentError("--lines must be >= 1");
    if (static_cast<std::size_t>(options.lines) > ids.size()) {
      return absl::InvalidArgumentError(absl::StrCat("--lines=", options.lines, " needs as many ",
                                                     "distinct ids, but there are ", ids.size()));
    }
  }
  for (const std::string& id : ids) {
    requests->fields.Add(IsOrder(options.method) ? wire::LineField(id, 1) : wire::IdField(id));
  }
  requests->sampler = options.distribution == IdDistribution::kZipf
                          ? IdSampler::Zipf(ids.size(), options.zipf_s)
                          : IdSampler::Uniform(ids.size());
  requests->ids = std::move(ids);
  return std::shared_ptr<const LoadRequests>(std::move(requests));
}

absl::StatusOr<std::shared_ptr<const LoadRequests>> PrepareGenericRequests(
    const LoadOptions& options, const std::vector<std::string>& serialized) {
  if (serialized.empty()) return absl::InvalidArgumentError("no request to send");
  if (options.verify) {
    return absl::InvalidArgumentError(
        "--verify checks the project's own methods only (--method), not --call");
  }
  if (options.call_path.empty()) return absl::InvalidArgumentError("no method to call");
  grpc_init();  // once per process; never shut down (the process exits)
  auto requests = std::make_shared<LoadRequests>();
  requests->method = LoadMethod::kGeneric;
  for (const std::string& bytes : serialized) requests->fields.Add(bytes);
  return std::shared_ptr<const LoadRequests>(std::move(requests));
}

absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options, const LoadRequests& requests) {
  if (options.connections < 1) return absl::InvalidArgumentError("--connections must be >= 1");
  if (options.client_cqs < 1) return absl::InvalidArgumentError("--client_cqs must be >= 1");
  if (options.rate <= 0 && options.inflight < 1) {
    return absl::InvalidArgumentError("--inflight must be >= 1");
  }
  if (options.rate > 0 && options.max_outstanding < 1) {
    return absl::InvalidArgumentError("--max_outstanding must be >= 1");
  }
  if (options.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--deadline must be positive");
  }
  if (options.duration <= absl::ZeroDuration() || options.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration must be positive and --warmup not negative");
  }
  if (options.server_streaming && options.method != LoadMethod::kGeneric) {
    return absl::InvalidArgumentError("only --call methods may be server-streaming");
  }
  Plan plan(options, requests);
  if ((requests.method == LoadMethod::kGeneric) != (options.method == LoadMethod::kGeneric)) {
    return absl::InvalidArgumentError("the requests were prepared for another method");
  }
  plan.path = options.method == LoadMethod::kGeneric ? options.call_path
                                                     : std::string(InfoOf(options.method).path);
  plan.core = options.client_api == ClientApi::kCore && !options.server_streaming;
  // More workers than calls would leave some idle (and skew the spread).
  plan.workers =
      options.rate > 0 ? options.client_cqs : std::min(options.client_cqs, options.inflight);
  if (options.total > 0) {
    plan.workers = static_cast<int>(
        std::min<std::uint64_t>(static_cast<std::uint64_t>(plan.workers), options.total));
  }
  for (int c = 0; c < options.connections; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("inventory_bench.connection", c);  // distinct args: own connection
    // A load tool must not retry: a failure is a result.
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    for (const std::string& spec : options.channel_args) {
      if (absl::Status added = AddChannelArg(args, spec); !added.ok()) return added;
    }
    Connection connection;
    server::host::ApplyChannelTlsArguments(options.tls, args);
    connection.channel = grpc::CreateCustomChannel(
        options.target,
        options.credentials != nullptr ? options.credentials : grpc::InsecureChannelCredentials(),
        args);
    if (plan.core) {
      connection.core = grpc::testing::ChannelTestPeer::CoreChannel(*connection.channel);
      connection.registered_method =
          grpc_channel_register_call(connection.core, plan.path.c_str(), nullptr, nullptr);
    } else {
      connection.stub =
          std::make_unique<grpc::TemplatedGenericStub<SerializedRequest, grpc::ByteBuffer>>(
              connection.channel);
    }
    plan.connections.push_back(std::move(connection));
  }
  const auto connect_by =
      std::chrono::system_clock::now() + absl::ToChronoNanoseconds(options.connect_timeout);
  for (int c = 0; c < options.connections; ++c) {
    if (!plan.connections[c].channel->WaitForConnected(connect_by)) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", options.target, " within ",
                                                 absl::FormatDuration(options.connect_timeout),
                                                 " (connection ", c + 1, " of ",
                                                 options.connections, ")"));
    }
  }

  plan.start_ns = MonotonicNowNs() + 1'000'000;  // the workers' threads are running by then
  plan.measure_ns = plan.start_ns + absl::ToInt64Nanoseconds(options.warmup);
  plan.end_ns = plan.measure_ns + absl::ToInt64Nanoseconds(options.duration);
  plan.deadline_ns = absl::ToInt64Nanoseconds(options.deadline);
  plan.timeline_ns =
      std::max<std::int64_t>(100'000'000, absl::ToInt64Nanoseconds(options.duration) / 500);
  plan.timeline_ns = (plan.timeline_ns + 999'999) / 1'000'000 * 1'000'000;  // whole ms
  plan.timeline_buckets = static_cast<std::size_t>(
      (absl::ToInt64Nanoseconds(options.duration) + plan.timeline_ns - 1) / plan.timeline_ns);
  plan.drain_limit_ns = plan.end_ns + plan.deadline_ns + 5'000'000'000;

  std::vector<std::unique_ptr<Worker>> workers;
  for (int w = 0; w < plan.workers; ++w) workers.push_back(std::make_unique<Worker>(plan, w));
  std::vector<std::thread> threads;
  // Every worker starts its first calls at start_ns.
  for (auto& worker : workers) threads.emplace_back([&worker] { worker->Run(); });

  // Progress, once a second, and the CPU used over the measured window.
  auto snapshot = [&workers] {
    Tally total;
    for (auto& worker : workers) worker->AddTo(total);
    return total;
  };
  std::optional<double> cpu_at_start, cpu_at_end;
  std::uint64_t last_completions = 0;
  std::int64_t last_report = plan.start_ns;
  std::int64_t tick = plan.start_ns + 1'000'000'000;
  bool finished_early = false;  // options.total reached before end_ns
  while (!cpu_at_end) {
    const std::int64_t milestone = cpu_at_start ? plan.end_ns : plan.measure_ns;
    std::int64_t wake = options.progress != nullptr ? std::min(tick, milestone) : milestone;
    std::int64_t now = MonotonicNowNs();
    // With --total, the workers may all be done before the window ends.
    if (options.total > 0) wake = std::min(wake, now + 5'000'000);
    if (wake > now) absl::SleepFor(absl::Nanoseconds(wake - now));
    now = MonotonicNowNs();
    if (!cpu_at_start && now >= plan.measure_ns) cpu_at_start = ProcessCpuSeconds();
    if (!cpu_at_end && now >= plan.end_ns) cpu_at_end = ProcessCpuSeconds();
    if (!cpu_at_end && options.total > 0 &&
        plan.finished_workers.load(std::memory_order_acquire) == plan.workers) {
      if (!cpu_at_start) cpu_at_start = ProcessCpuSeconds();
      cpu_at_end = ProcessCpuSeconds();
      finished_early = true;
    }
    if (options.progress == nullptr || now < tick || cpu_at_end) continue;
    while (tick <= now) tick += 1'000'000'000;
    Tally total = snapshot();
    const double seconds = static_cast<double>(now - last_report) / 1e9;
    const double rate = static_cast<double>(total.completions - last_completions) / seconds;
    last_completions = total.completions;
    last_report = now;
    const double elapsed = static_cast<double>(now - plan.start_ns) / 1e9;
    if (now < plan.measure_ns) {
      std::fprintf(options.progress, "[%5.1fs] warm-up   %9.0f calls/s\n", elapsed, rate);
    } else {
      const std::string p99 = total.latency_ns.count() == 0
                                  ? std::string("-")
                                  : Micros(total.latency_ns.Percentile(0.99));
      std::fprintf(options.progress,
                   "[%5.1fs] measuring %9.0f calls/s  %llu errors  p99 so far %s us\n", elapsed,
                   rate, static_cast<unsigned long long>(total.failed), p99.c_str());
    }
    std::fflush(options.progress);
  }
  for (std::thread& thread : threads) thread.join();

  Tally total = snapshot();
  LoadResult result;
  result.latency_ns = total.latency_ns;
  result.succeeded = total.succeeded;
  result.not_available = total.not_available;
  result.failed = total.failed;
  result.by_outcome = total.by_outcome;
  result.first_message = total.first_message;
  result.scheduled = total.scheduled;
  result.unsent = total.unsent;
  result.offered_rate = options.rate;
  result.elapsed =
      absl::Nanoseconds((finished_early ? total.last_completion_ns
                                        : std::max(total.last_completion_ns, plan.end_ns)) -
                        plan.measure_ns);
  result.client_cpu_seconds = cpu_at_end.value_or(0) - cpu_at_start.value_or(0);
  result.items_per_call = options.method == LoadMethod::kBatch ? options.batch_size : 1;
  result.server_streaming = options.server_streaming;
  result.timeline_interval = absl::Nanoseconds(plan.timeline_ns);
  result.timeline = std::move(total.timeline);
  // Only up to the last interval that holds a call (--total may end early).
  while (!result.timeline.empty() && result.timeline.back().calls == 0) result.timeline.pop_back();
  result.messages = total.messages;
  result.messages_per_call = total.messages_per_call;
  result.first_message_ns = total.first_message_ns;
  return result;
}

std::string FormatSummary(const LoadOptions& options, const LoadResult& result) {
  std::string out;
  absl::StrAppend(
      &out,
      options.method == LoadMethod::kGeneric ? options.call_name
                                             : std::string(InfoOf(options.method).name),
      " against ", options.target, ": ",
      options.rate > 0 ? absl::StrCat("open loop, offered ", FormatRate(options.rate), " calls/s")
                       : absl::StrCat("closed loop, ", options.inflight, " calls in flight"),
      ", ", options.connections, " connections, ", options.client_cqs, " client queues, ",
      options.total > 0 ? absl::StrCat(options.total, " calls measured (within ",
                                       absl::FormatDuration(options.duration), ")\n")
                        : absl::StrCat(absl::FormatDuration(options.duration), " measured\n"));
  absl::StrAppend(&out, "  achieved   ", FormatRate(result.calls_per_second()), " calls/s OK");
  if (result.items_per_call > 1) {
    absl::StrAppend(&out, " (", FormatRate(result.calls_per_second() * result.items_per_call),
                    " ids/s)");
  }
  if (options.rate > 0) {
    absl::StrAppend(&out, absl::StrFormat(" = %.1f%% of offered",
                                          100.0 * result.calls_per_second() / options.rate));
  }
  absl::StrAppend(&out, "\n  calls      ", result.completed(), " completed, ", result.succeeded,
                  " OK, ", result.failed, " failed");
  if (options.rate > 0) {
    absl::StrAppend(&out, "; ", result.scheduled, " scheduled, ", result.unsent,
                    " never sent (max_outstanding reached)");
  }
  absl::StrAppend(&out, "\n");
  if (options.method == LoadMethod::kGet && result.succeeded > 0) {
    absl::StrAppend(&out, "  answers    ", result.succeeded - result.not_available, " available, ",
                    result.not_available,
                    " not available (unknown to the target, or out of stock)\n");
    if (result.not_available == result.succeeded) {
      absl::StrAppend(&out,
                      "  note       every answer was a miss: this run measured look-ups of ids "
                      "the target lacks (see --ids_file, --catalog_size)\n");
    }
  }
  const LatencyHistogram& h = result.latency_ns;
  absl::StrAppend(&out, "  latency us p50 ", Micros(h.Percentile(0.5)), "  p90 ",
                  Micros(h.Percentile(0.9)), "  p99 ", Micros(h.Percentile(0.99)), "  p99.9 ",
                  Micros(h.Percentile(0.999)), "  max ", Micros(h.max()),
                  options.rate > 0 ? "  (from each call's scheduled start)\n" : "\n");
  absl::StrAppend(&out, HistogramText(h));
  if (result.server_streaming) {
    const LatencyHistogram& m = result.messages_per_call;
    absl::StrAppend(&out, "  messages   ", result.messages, " received; per call min ", m.min(),
                    "  p50 ", m.Percentile(0.5), "  max ", m.max(),
                    absl::StrFormat("  mean %.2f", m.mean()), "\n");
    const LatencyHistogram& f = result.first_message_ns;
    if (f.count() > 0) {
      absl::StrAppend(&out, "  first msg  us p50 ", Micros(f.Percentile(0.5)), "  p90 ",
                      Micros(f.Percentile(0.9)), "  p99 ", Micros(f.Percentile(0.99)), "  max ",
                      Micros(f.max()), "  (", f.count(), " calls got a message)\n");
    }
  }
  if (result.succeeded > 0) {
    absl::StrAppend(&out, absl::StrFormat("  client CPU %.1f us per OK call\n",
                                          1e6 * result.client_cpu_seconds /
                                              static_cast<double>(result.succeeded)));
  }
  for (int outcome = 1; outcome < kOutcomes; ++outcome) {
    if (result.by_outcome[outcome] == 0) continue;
    absl::StrAppend(&out, "  error      ", OutcomeName(outcome), " x", result.by_outcome[outcome],
                    ": ", result.first_message[outcome], "\n");
  }
  return out;
}

std::string FormatSummaryJson(const LoadOptions& options, const LoadResult& result) {
  namespace pb = google::protobuf;
  pb::Struct out;
  auto& f = *out.mutable_fields();
  auto number = [](double value) {
    pb::Value v;
    v.set_number_value(value);
    return v;
  };
  auto text = [](absl::string_view value) {
    pb::Value v;
    v.set_string_value(std::string(value));
    return v;
  };
  f["method"] = text(MethodName(options));
  f["target"] = text(options.target);
  f["loop"] = text(options.rate > 0 ? "open" : "closed");
  if (options.rate > 0) {
    f["offered_rate"] = number(options.rate);
    f["scheduled"] = number(static_cast<double>(result.scheduled));
    f["unsent"] = number(static_cast<double>(result.unsent));
  } else {
    f["inflight"] = number(options.inflight);
  }
  f["connections"] = number(options.connections);
  f["client_queues"] = number(options.client_cqs);
  f["elapsed_seconds"] = number(absl::ToDoubleSeconds(result.elapsed));
  f["calls"] = number(static_cast<double>(result.completed()));
  f["ok"] = number(static_cast<double>(result.succeeded));
  f["failed"] = number(static_cast<double>(result.failed));
  f["error_ratio"] = number(result.error_ratio());
  f["calls_per_second"] = number(result.calls_per_second());
  const LatencyHistogram& h = result.latency_ns;
  pb::Struct latency;
  auto& l = *latency.mutable_fields();
  const auto us = [](double ns) { return ns / 1e3; };
  l["p50"] = number(us(static_cast<double>(h.Percentile(0.5))));
  l["p90"] = number(us(static_cast<double>(h.Percentile(0.9))));
  l["p99"] = number(us(static_cast<double>(h.Percentile(0.99))));
  l["p99_9"] = number(us(static_cast<double>(h.Percentile(0.999))));
  l["max"] = number(us(static_cast<double>(h.max())));
  l["mean"] = number(us(h.mean()));
  *f["latency_us"].mutable_struct_value() = latency;
  pb::ListValue codes;
  for (int outcome = 0; outcome < kOutcomes; ++outcome) {
    if (result.by_outcome[outcome] == 0) continue;
    pb::Struct code;
    auto& c = *code.mutable_fields();
    c["code"] = text(OutcomeName(outcome));
    c["count"] = number(static_cast<double>(result.by_outcome[outcome]));
    if (outcome != 0) c["first_message"] = text(result.first_message[outcome]);
    *codes.add_values()->mutable_struct_value() = code;
  }
  *f["codes"].mutable_list_value() = codes;
  pb::ListValue rows;
  for (const auto& [edge, count] : HistogramRows(h)) {
    pb::Struct row;
    (*row.mutable_fields())["le_us"] = number(edge / 1e3);
    (*row.mutable_fields())["count"] = number(static_cast<double>(count));
    *rows.add_values()->mutable_struct_value() = row;
  }
  *f["histogram"].mutable_list_value() = rows;
  if (result.server_streaming) {
    f["messages"] = number(static_cast<double>(result.messages));
    const LatencyHistogram& m = result.messages_per_call;
    pb::Struct per_call;
    auto& p = *per_call.mutable_fields();
    p["min"] = number(static_cast<double>(m.min()));
    p["p50"] = number(static_cast<double>(m.Percentile(0.5)));
    p["max"] = number(static_cast<double>(m.max()));
    p["mean"] = number(m.mean());
    *f["messages_per_call"].mutable_struct_value() = per_call;
    const LatencyHistogram& fm = result.first_message_ns;
    pb::Struct first;
    auto& fl = *first.mutable_fields();
    fl["calls"] = number(static_cast<double>(fm.count()));
    fl["p50"] = number(us(static_cast<double>(fm.Percentile(0.5))));
    fl["p90"] = number(us(static_cast<double>(fm.Percentile(0.9))));
    fl["p99"] = number(us(static_cast<double>(fm.Percentile(0.99))));
    fl["p99_9"] = number(us(static_cast<double>(fm.Percentile(0.999))));
    fl["max"] = number(us(static_cast<double>(fm.max())));
    fl["mean"] = number(us(fm.mean()));
    *f["first_message_us"].mutable_struct_value() = first;
  }
  if (result.succeeded > 0) {
    f["client_cpu_us_per_call"] =
        number(1e6 * result.client_cpu_seconds / static_cast<double>(result.succeeded));
  }
  std::string json;
  (void)pb::util::MessageToJsonString(out, &json);
  return json;
}

std::string FormatSummaryCsvHeader() {
  return "method,target,loop,offered_rate,inflight,connections,calls,ok,failed,error_ratio,"
         "calls_per_second,p50_us,p90_us,p99_us,p99_9_us,max_us,client_cpu_us_per_call,codes,"
         "first_messages,messages,first_message_p50_us,first_message_p99_us";
}

std::string FormatSummaryCsv(const LoadOptions& options, const LoadResult& result) {
  const LatencyHistogram& h = result.latency_ns;
  const auto us = [](std::uint64_t ns) {
    return absl::StrFormat("%.1f", static_cast<double>(ns) / 1e3);
  };
  std::vector<std::string> codes;
  google::protobuf::Struct messages;  // a message may hold any character: JSON
  for (int outcome = 0; outcome < kOutcomes; ++outcome) {
    if (result.by_outcome[outcome] == 0) continue;
    codes.push_back(absl::StrCat(OutcomeName(outcome), "=", result.by_outcome[outcome]));
    if (outcome != 0) {
      (*messages.mutable_fields())[OutcomeName(outcome)].set_string_value(
          result.first_message[outcome]);
    }
  }
  std::string messages_json;
  (void)google::protobuf::util::MessageToJsonString(messages, &messages_json);
  const std::vector<std::string> fields = {
      CsvField(MethodName(options)),
      CsvField(options.target),
      options.rate > 0 ? "open" : "closed",
      options.rate > 0 ? FormatRate(options.rate) : "",
      options.rate > 0 ? "" : absl::StrCat(options.inflight),
      absl::StrCat(options.connections),
      absl::StrCat(result.completed()),
      absl::StrCat(result.succeeded),
      absl::StrCat(result.failed),
      absl::StrFormat("%.6g", result.error_ratio()),
      absl::StrFormat("%.1f", result.calls_per_second()),
      us(h.Percentile(0.5)),
      us(h.Percentile(0.9)),
      us(h.Percentile(0.99)),
      us(h.Percentile(0.999)),
      us(h.max()),
      result.succeeded > 0 ? absl::StrFormat("%.2f", 1e6 * result.client_cpu_seconds /
                                                         static_cast<double>(result.succeeded))
                           : "",
      CsvField(absl::StrJoin(codes, ";")),
      CsvField(messages_json),
      result.server_streaming ? absl::StrCat(result.messages) : "",
      result.server_streaming ? us(result.first_message_ns.Percentile(0.5)) : "",
      result.server_streaming ? us(result.first_message_ns.Percentile(0.99)) : "",
  };
  return absl::StrJoin(fields, ",");
}

}  // namespace bench
