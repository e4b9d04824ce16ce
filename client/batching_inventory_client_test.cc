// The batching client against a real InventoryService (the production
// service on the engine) and against a scripted one (the engine with
// handlers the test controls: park, fail, record), on ephemeral loopback
// ports, over real channels. Batch counts are the server's own counters.
// Waits are hang guards, never performance thresholds.
#include "client/batching_inventory_client.h"

#include <grpcpp/alarm.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "domain/inventory/catalog.h"
#include "engine/tag.h"
#include "inventory.grpc.pb.h"
#include "server/host/server_host.h"
#include "server/inventory/inventory_service.h"
#include "test/test_util.h"

namespace {

using client::BatchingInventoryClient;
using client::BatchingInventoryClientOptions;
using client::LookupResult;
using client::LookupTicket;
using inventory::BatchGetProductAvailabilityRequest;
using inventory::BatchGetProductAvailabilityResponse;
using inventory::GetProductAvailabilityRequest;
using inventory::GetProductAvailabilityResponse;
using testing_util::WaitUntil;

const std::string kBatchMethod = "inventory.InventoryService/BatchGetProductAvailability";
const std::string kUnaryMethod = "inventory.InventoryService/GetProductAvailability";

absl::Time DeadlineIn(absl::Duration duration) { return absl::Now() + duration; }

// The outcome of one look-up, as its callback saw it. Must outlive the
// client that may call it (declare outcomes before the client).
class Outcome {
 public:
  client::LookupCallback Callback() {
    return [this](absl::StatusOr<LookupResult> result) {
      absl::MutexLock lock(&mu_);
      ++calls_;
      result_ = std::move(result);
    };
  }
  bool Done() const {
    absl::MutexLock lock(&mu_);
    return calls_ > 0;
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // Waits for the callback (a hang guard) and returns what it got.
  absl::StatusOr<LookupResult> Wait(absl::Duration limit = absl::Seconds(30)) const {
    REQUIRE(WaitUntil([&] { return Done(); }, limit));
    absl::MutexLock lock(&mu_);
    return result_;
  }
  absl::StatusCode code() const { return Wait().status().code(); }

 private:
  mutable absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::StatusOr<LookupResult> result_ ABSL_GUARDED_BY(mu_) = absl::UnknownError("no answer yet");
};

bool AllDone(const std::deque<Outcome>& outcomes, absl::Duration limit = absl::Seconds(60)) {
  return WaitUntil(
      [&] {
        for (const Outcome& outcome : outcomes) {
          if (!outcome.Done()) return false;
        }
        return true;
      },
      limit);
}

BatchingInventoryClientOptions ClientOptions(int port) {
  BatchingInventoryClientOptions options;
  options.target = absl::StrCat("127.0.0.1:", port);
  return options;
}

std::unique_ptr<BatchingInventoryClient> MakeClient(BatchingInventoryClientOptions options) {
  client::PinGrpcCallbackQueue();  // as every test that creates and drops channels
  absl::StatusOr<std::unique_ptr<BatchingInventoryClient>> made =
      BatchingInventoryClient::Create(std::move(options));
  REQUIRE(made.ok());
  return std::move(*made);
}

// The production InventoryService in a ServerHost, restartable on the same
// port.
class RealInventory {
 public:
  explicit RealInventory(const std::vector<domain::inventory::CatalogEntry>& catalog) {
    REQUIRE(store_.Load(catalog).ok());
    Start(0);
  }
  ~RealInventory() { Stop(); }

  void Start(int port) {
    server::host::ServerHostOptions options;
    options.engine.completion_queues = 2;
    service_.emplace(store_);
    host_.emplace(options);
    service_->Register(host_->engine());
    absl::StatusOr<int> bound = host_->Start(
        absl::StrCat("127.0.0.1:", port), {server::inventory::InventoryGrpcService::kServiceName});
    REQUIRE(bound.ok());
    port_ = *bound;
  }
  void Stop() {
    if (host_.has_value()) host_->Shutdown();
    host_.reset();  // the service must outlive the host
    service_.reset();
  }

  int port() const { return port_; }
  domain::inventory::InventoryStore& store() { return store_; }
  std::int64_t CallsStarted(const std::string& method) {
    return host_->engine().MethodStats(method).calls_started;
  }

 private:
  domain::inventory::InventoryStore store_;
  std::optional<server::inventory::InventoryGrpcService> service_;
  std::optional<server::host::ServerHost> host_;
  int port_ = 0;
};

// An InventoryService whose behaviour the test scripts, on the engine: it
// records every request, answers from its own table (unknown ids: 0), and
// can hold calls (park) until released, or fail the next ones.
class ScriptedInventory {
 public:
  using BatchResponder = engine::UnaryResponder<BatchGetProductAvailabilityResponse>;
  using UnaryResponder = engine::UnaryResponder<GetProductAvailabilityResponse>;

  ScriptedInventory() : engine_(EngineOptions()) {
    engine_.AddUnaryMethod<BatchGetProductAvailabilityRequest, BatchGetProductAvailabilityResponse>(
        &service_, &RawService::RequestBatchGetProductAvailability, kBatchMethod,
        [this](BatchResponder responder, const BatchGetProductAvailabilityRequest& request) {
          OnBatch(std::move(responder), request);
        });
    engine_.AddUnaryMethod<GetProductAvailabilityRequest, GetProductAvailabilityResponse>(
        &service_, &RawService::RequestGetProductAvailability, kUnaryMethod,
        [this](UnaryResponder responder, const GetProductAvailabilityRequest& request) {
          OnUnary(std::move(responder), request);
        });
    absl::StatusOr<int> port = engine_.Start("127.0.0.1:0");
    REQUIRE(port.ok());
    port_ = *port;
  }
  ~ScriptedInventory() {
    Release();  // every responder must be answered before the engine goes
    engine_.Shutdown();
  }

  int port() const { return port_; }
  void SetQuantity(const std::string& id, int quantity) {
    absl::MutexLock lock(&mu_);
    quantities_[id] = quantity;
  }
  void Park(bool park) {
    absl::MutexLock lock(&mu_);
    park_ = park;
  }
  void FailNext(int calls, absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_next_ = calls;
    failure_ = std::move(status);
  }
  // Stops parking and answers every parked call.
  void Release() {
    std::vector<ParkedBatch> batches;
    std::vector<ParkedUnary> unaries;
    {
      absl::MutexLock lock(&mu_);
      park_ = false;
      batches.swap(parked_batches_);
      unaries.swap(parked_unaries_);
    }
    for (ParkedBatch& parked : batches) Answer(parked.responder, parked.request);
    for (ParkedUnary& parked : unaries) Answer(parked.responder, parked.request);
  }
  bool WaitParked(std::size_t calls) {
    return WaitUntil([&] {
      absl::MutexLock lock(&mu_);
      return parked_batches_.size() + parked_unaries_.size() >= calls;
    });
  }
  bool AllParkedCancelled() {
    absl::MutexLock lock(&mu_);
    for (ParkedBatch& parked : parked_batches_) {
      if (!parked.responder.IsCancelled()) return false;
    }
    for (ParkedUnary& parked : parked_unaries_) {
      if (!parked.responder.IsCancelled()) return false;
    }
    return true;
  }

  // What the server saw, per batch RPC, in arrival order.
  std::vector<std::vector<std::string>> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }
  std::vector<std::string> peers() {
    absl::MutexLock lock(&mu_);
    return peers_;
  }
  std::vector<absl::Time> deadlines() {
    absl::MutexLock lock(&mu_);
    return deadlines_;
  }
  std::int64_t CallsStarted(const std::string& method) {
    return engine_.MethodStats(method).calls_started;
  }

 private:
  using RawService = inventory::InventoryService::WithRawMethod_GetProductAvailability<
      inventory::InventoryService::WithRawMethod_BatchGetProductAvailability<
          inventory::InventoryService::Service>>;
  struct ParkedBatch {
    BatchResponder responder;
    BatchGetProductAvailabilityRequest request;
  };
  struct ParkedUnary {
    UnaryResponder responder;
    GetProductAvailabilityRequest request;
  };

  static engine::EngineOptions EngineOptions() {
    engine::EngineOptions options;
    options.completion_queues = 1;
    options.requests_per_method = 16;
    options.drain_deadline = absl::Seconds(2);
    return options;
  }

  // Returns true if the call was parked or failed (and so is handled).
  template <class Responder>
  bool Record(Responder& responder, std::optional<absl::Status>* failure)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    peers_.push_back(responder.context().peer());
    deadlines_.push_back(responder.deadline());
    if (fail_next_ > 0) {
      --fail_next_;
      *failure = failure_;
      return true;
    }
    return park_;
  }

  void OnBatch(BatchResponder responder, const BatchGetProductAvailabilityRequest& request) {
    std::optional<absl::Status> failure;
    {
      absl::MutexLock lock(&mu_);
      batches_.emplace_back(request.product_ids().begin(), request.product_ids().end());
      if (Record(responder, &failure) && !failure.has_value()) {
        parked_batches_.push_back({std::move(responder), request});
        return;
      }
    }
    if (failure.has_value()) {
      responder.Finish(*failure);
    } else {
      Answer(responder, request);
    }
  }

  void OnUnary(UnaryResponder responder, const GetProductAvailabilityRequest& request) {
    std::optional<absl::Status> failure;
    {
      absl::MutexLock lock(&mu_);
      if (Record(responder, &failure) && !failure.has_value()) {
        parked_unaries_.push_back({std::move(responder), request});
        return;
      }
    }
    if (failure.has_value()) {
      responder.Finish(*failure);
    } else {
      Answer(responder, request);
    }
  }

  int Quantity(const std::string& id) {
    absl::MutexLock lock(&mu_);
    auto it = quantities_.find(id);
    return it == quantities_.end() ? 0 : it->second;
  }
  void Answer(BatchResponder& responder, const BatchGetProductAvailabilityRequest& request) {
    for (const std::string& id : request.product_ids()) {
      inventory::ProductAvailability* item = responder.response().add_items();
      item->set_product_id(id);
      item->set_quantity(Quantity(id));
      item->set_is_available(item->quantity() > 0);
    }
    responder.Finish();
  }
  void Answer(UnaryResponder& responder, const GetProductAvailabilityRequest& request) {
    responder.response().set_quantity(Quantity(request.product_id()));
    responder.response().set_is_available(responder.response().quantity() > 0);
    responder.Finish();
  }

  RawService service_;  // must outlive the engine's server
  engine::Engine engine_;
  int port_ = 0;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> quantities_ ABSL_GUARDED_BY(mu_);
  bool park_ ABSL_GUARDED_BY(mu_) = false;
  int fail_next_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  std::vector<ParkedBatch> parked_batches_ ABSL_GUARDED_BY(mu_);
  std::vector<ParkedUnary> parked_unaries_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<std::string>> batches_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> peers_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> deadlines_ ABSL_GUARDED_BY(mu_);
};

// Holds the client's only thread (options.threads = 1) inside a callback,
// so that no batch can complete while the test issues look-ups: what goes
// into which batch then follows from the queue alone, not from timing. This
// deliberately breaks the "callbacks must not block" contract, for the
// test's determinism. The warm-up look-up also opens a connection.
class FrozenClientThread {
 public:
  FrozenClientThread(BatchingInventoryClient& client, const std::string& warm_up_id) {
    client.Lookup(warm_up_id, DeadlineIn(absl::Seconds(60)),
                  [this](absl::StatusOr<LookupResult> result) {
                    warm_up_ok_ = result.ok();
                    entered_.Notify();
                    released_.WaitForNotification();
                    left_.Notify();
                  });
    REQUIRE(entered_.WaitForNotificationWithTimeout(absl::Seconds(30)));
    REQUIRE(warm_up_ok_);
  }
  // A waiter still touches a Notification after Notify(): wait until the
  // callback is out before this object (and released_) goes.
  ~FrozenClientThread() {
    Release();
    left_.WaitForNotification();
  }
  void Release() {
    if (!released_.HasBeenNotified()) released_.Notify();
  }

 private:
  absl::Notification entered_;
  absl::Notification released_;
  absl::Notification left_;  // notified last: its destructor waits for Notify()
  // Atomic: Notify() runs in Debian's uninstrumented abseil, so TSan cannot
  // see it order a plain write before an already-notified waiter.
  std::atomic<bool> warm_up_ok_{false};
};

class CountingListener : public client::BatchListener {
 public:
  void OnBatchSent(int lookups, int unique_ids) override {
    ++sent;
    lookups_sent += lookups;
  }
  void OnBatchDone(int lookups, const absl::Status& status, absl::Duration latency) override {
    ++done;
    if (!status.ok()) ++failed;
  }
  std::atomic<int> sent{0}, lookups_sent{0}, done{0}, failed{0};
};

std::int64_t FailedTotal(const client::BatchingInventoryClientStats& stats) {
  return stats.failed_invalid + stats.failed_resource_exhausted + stats.failed_deadline_exceeded +
         stats.failed_cancelled + stats.failed_rpc_error + stats.failed_shut_down;
}

}  // namespace

TEST_CASE("batching client: a lone look-up on an idle client is sent at once, not after the linger",
          "[batching]") {
  RealInventory inventory({{"product123", 10}});
  BatchingInventoryClientOptions options = ClientOptions(inventory.port());
  options.max_linger = absl::Seconds(10);
  std::deque<Outcome> outcomes(4);
  auto client = MakeClient(options);
  for (int i = 0; i < 4; ++i) {
    client->Lookup("product123", DeadlineIn(absl::Seconds(60)), outcomes[i].Callback());
    // The guard is half the linger: a look-up that waited for it fails here.
    absl::StatusOr<LookupResult> result = outcomes[i].Wait(absl::Seconds(5));
    REQUIRE(result.ok());
    CHECK(result->is_available);
    CHECK(result->quantity == 10);
  }
  CHECK(inventory.CallsStarted(kBatchMethod) == 4);
  const client::BatchingInventoryClientStats stats = client->Stats();
  CHECK(stats.batches_sent == 4);
  CHECK(stats.batch_size_max == 1);
  CHECK(stats.batch_size_buckets[0] == 4);
  CHECK(stats.lookups_succeeded == 4);
}

TEST_CASE("batching client: 1000 concurrent look-ups reach the server as about ten batch RPCs",
          "[batching]") {
  constexpr int kLookups = 1000;
  RealInventory inventory(domain::inventory::SyntheticCatalog(kLookups));
  BatchingInventoryClientOptions options = ClientOptions(inventory.port());
  options.max_batch_size = 100;
  options.max_linger = absl::Seconds(10);  // batches are cut by size and completions only
  CountingListener listener;
  options.listener = &listener;
  std::deque<Outcome> outcomes(kLookups);
  auto id = [](int i) { return absl::StrFormat("sku-%08d", i); };
  auto client = MakeClient(options);
  {
    FrozenClientThread frozen(*client, id(0));
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
      callers.emplace_back([&, t] {
        for (int i = t; i < kLookups; i += 4) {
          client->Lookup(id(i), DeadlineIn(absl::Seconds(120)), outcomes[i].Callback());
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
  }
  REQUIRE(AllDone(outcomes));
  for (int i = 0; i < kLookups; ++i) {
    absl::StatusOr<LookupResult> result = outcomes[i].Wait();
    REQUIRE(result.ok());
    const domain::inventory::Availability expected = inventory.store().Get(id(i));
    REQUIRE(result->quantity == expected.quantity);
    REQUIRE(result->is_available == expected.is_available);
  }
  // Expected: 1 (sent alone: nothing in flight) + 9 full batches + the 99
  // left over = 11, plus the warm-up.
  const std::int64_t rpcs = inventory.CallsStarted(kBatchMethod) - 1;
  INFO("BatchGetProductAvailability calls for 1000 look-ups: " << rpcs);
  CHECK(rpcs >= 10);
  CHECK(rpcs <= 13);
  const client::BatchingInventoryClientStats stats = client->Stats();
  CHECK(stats.batches_sent == rpcs + 1);
  CHECK(stats.lookups_sent == kLookups + 1);
  CHECK(stats.batch_size_sum == kLookups + 1);
  CHECK(stats.batch_size_max == 100);
  CHECK(stats.lookups_succeeded == kLookups + 1);
  CHECK(stats.queue_depth == 0);
  CHECK(listener.sent == stats.batches_sent);
  CHECK(listener.lookups_sent == kLookups + 1);
  REQUIRE(WaitUntil([&] { return listener.done == listener.sent; }));
  CHECK(listener.failed == 0);
}

TEST_CASE("batching client: each caller gets its own product's answer when ids repeat",
          "[batching]") {
  RealInventory inventory({});
  constexpr int kProducts = 8;
  for (int p = 0; p < kProducts; ++p) {
    REQUIRE(inventory.store().Set(absl::StrCat("p", p), 10 * p).ok());  // p0 is out of stock
  }
  constexpr int kLookups = 400;
  std::deque<Outcome> outcomes(kLookups);
  // One id more than the store knows: "p8" answers {false, 0}.
  auto id = [](int i) { return absl::StrCat("p", i % (kProducts + 1)); };
  auto client = MakeClient(ClientOptions(inventory.port()));
  {
    FrozenClientThread frozen(*client, "p1");
    for (int i = 0; i < kLookups; ++i) {
      client->Lookup(id(i), DeadlineIn(absl::Seconds(60)), outcomes[i].Callback());
    }
  }
  REQUIRE(AllDone(outcomes));
  for (int i = 0; i < kLookups; ++i) {
    absl::StatusOr<LookupResult> result = outcomes[i].Wait();
    INFO("look-up " << i << " of " << id(i));
    REQUIRE(result.ok());
    const int product = i % (kProducts + 1);
    const int expected = product < kProducts ? 10 * product : 0;
    CHECK(result->quantity == expected);
    CHECK(result->is_available == (expected > 0));
  }
  const client::BatchingInventoryClientStats stats = client->Stats();
  // Each batch asks for each of the 9 ids at most once.
  CHECK(stats.lookups_sent == kLookups + 1);
  CHECK(stats.batch_ids_sent <= (kProducts + 1) * stats.batches_sent);
}

TEST_CASE("batching client: identical ids in one batch are asked once", "[batching]") {
  ScriptedInventory server;
  server.SetQuantity("a", 1);
  server.SetQuantity("b", 2);
  server.SetQuantity("c", 3);
  constexpr int kLookups = 60;
  std::deque<Outcome> outcomes(kLookups);
  const std::string ids[] = {"a", "b", "c"};
  BatchingInventoryClientOptions options = ClientOptions(server.port());
  options.max_linger = absl::Seconds(10);  // batches cut by completions only, not by time
  auto client = MakeClient(options);
  {
    FrozenClientThread frozen(*client, "a");
    for (int i = 0; i < kLookups; ++i) {
      client->Lookup(ids[i % 3], DeadlineIn(absl::Seconds(60)), outcomes[i].Callback());
    }
  }
  REQUIRE(AllDone(outcomes));
  for (int i = 0; i < kLookups; ++i) {
    absl::StatusOr<LookupResult> result = outcomes[i].Wait();
    REQUIRE(result.ok());
    CHECK(result->quantity == i % 3 + 1);
  }
  // Warm-up, the first look-up alone (nothing else in flight), then the
  // other 59 together once it completes: 3 distinct ids.
  const std::vector<std::vector<std::string>> batches = server.batches();
  REQUIRE(batches.size() == 3);
  for (const std::vector<std::string>& batch : batches) {
    CHECK(std::set<std::string>(batch.begin(), batch.end()).size() == batch.size());
  }
  CHECK(batches[2].size() == 3);
  CHECK(client->Stats().batch_size_max == 59);
}

TEST_CASE("batching client: an invalid id fails only its own caller, before batching",
          "[batching][bad-input]") {
  RealInventory inventory({{"a", 1}, {"b", 2}});
  std::deque<Outcome> outcomes;
  const std::vector<std::string> bad = {"", std::string(129, 'x'), "tab\there", "\xc3\x28"};
  auto client = MakeClient(ClientOptions(inventory.port()));
  {
    FrozenClientThread frozen(*client, "a");
    for (int round = 0; round < 3; ++round) {
      for (const std::string& id : {std::string("a"), std::string("b")}) {
        client->Lookup(id, DeadlineIn(absl::Seconds(60)), outcomes.emplace_back().Callback());
      }
      for (const std::string& id : bad) {
        Outcome& outcome = outcomes.emplace_back();
        client->Lookup(id, DeadlineIn(absl::Seconds(60)), outcome.Callback());
        // Failed inline, before Lookup returned.
        REQUIRE(outcome.Done());
        CHECK(outcome.code() == absl::StatusCode::kInvalidArgument);
      }
    }
  }
  REQUIRE(AllDone(outcomes));
  int ok = 0;
  for (const Outcome& outcome : outcomes) {
    if (outcome.Wait().ok()) ++ok;
  }
  // Had a bad id reached the server inside a batch, the server would have
  // rejected the whole batch.
  CHECK(ok == 6);
  CHECK(client->Stats().failed_invalid == 12);
}

TEST_CASE("batching client: a failed batch RPC fails every caller in it with its status",
          "[batching][errors]") {
  ScriptedInventory server;
  server.SetQuantity("a", 5);
  BatchingInventoryClientOptions options = ClientOptions(server.port());
  options.max_linger = absl::Seconds(10);
  std::deque<Outcome> outcomes(5);
  auto client = MakeClient(options);
  {
    FrozenClientThread frozen(*client, "a");
    server.FailNext(2, absl::FailedPreconditionError("scripted failure"));
    // One batch of 1 (nothing in flight), then one of 4 once it completes.
    for (Outcome& outcome : outcomes) {
      client->Lookup("a", DeadlineIn(absl::Seconds(60)), outcome.Callback());
    }
  }
  REQUIRE(AllDone(outcomes));
  for (const Outcome& outcome : outcomes) {
    absl::StatusOr<LookupResult> result = outcome.Wait();
    CHECK(result.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(result.status().message() == "scripted failure");
  }
  CHECK(server.batches().size() == 3);  // warm-up + 2
  client::BatchingInventoryClientStats stats = client->Stats();
  CHECK(stats.rpcs_failed == 2);
  CHECK(stats.failed_rpc_error == 5);
  // The client is not stuck: the next look-up is answered.
  Outcome& after = outcomes.emplace_back();
  client->Lookup("a", DeadlineIn(absl::Seconds(60)), after.Callback());
  REQUIRE(after.Wait().ok());
  CHECK(after.Wait()->quantity == 5);
}

TEST_CASE(
    "batching client: UNAVAILABLE is retried by the channel's retry policy, not by the client",
    "[batching][errors]") {
  ScriptedInventory server;
  server.SetQuantity("a", 7);
  std::deque<Outcome> outcomes(2);
  SECTION("with the default policy (3 attempts) the look-up succeeds on the second attempt") {
    auto client = MakeClient(ClientOptions(server.port()));
    server.FailNext(1, absl::UnavailableError("scripted: try again"));
    client->Lookup("a", DeadlineIn(absl::Seconds(60)), outcomes[0].Callback());
    absl::StatusOr<LookupResult> result = outcomes[0].Wait();
    REQUIRE(result.ok());
    CHECK(result->quantity == 7);
    CHECK(server.CallsStarted(kBatchMethod) == 2);
    CHECK(client->Stats().rpcs_sent == 1);  // one RPC for the client; gRPC made two attempts
  }
  SECTION("with retries off the caller sees UNAVAILABLE") {
    BatchingInventoryClientOptions options = ClientOptions(server.port());
    options.retry_max_attempts = 1;
    auto client = MakeClient(options);
    server.FailNext(1, absl::UnavailableError("scripted: try again"));
    client->Lookup("a", DeadlineIn(absl::Seconds(60)), outcomes[1].Callback());
    CHECK(outcomes[1].code() == absl::StatusCode::kUnavailable);
    CHECK(server.CallsStarted(kBatchMethod) == 1);
  }
}

TEST_CASE("batching client: a full queue fails fast with RESOURCE_EXHAUSTED",
          "[batching][backpressure]") {
  ScriptedInventory server;
  server.SetQuantity("a", 1);
  BatchingInventoryClientOptions options = ClientOptions(server.port());
  options.max_in_flight_batches = 1;
  options.max_queued_lookups = 3;
  options.max_linger = absl::Seconds(10);
  std::deque<Outcome> outcomes(6);
  auto client = MakeClient(options);
  server.Park(true);
  client->Lookup("a", DeadlineIn(absl::Seconds(60)), outcomes[0].Callback());  // sent, held
  REQUIRE(server.WaitParked(1));
  for (int i = 1; i <= 3; ++i) {
    client->Lookup("a", DeadlineIn(absl::Seconds(60)), outcomes[i].Callback());  // queued
  }
  CHECK(client->Stats().queue_depth == 3);
  for (int i = 4; i <= 5; ++i) {
    client->Lookup("a", DeadlineIn(absl::Seconds(60)), outcomes[i].Callback());
    REQUIRE(outcomes[i].Done());  // inline
    CHECK(outcomes[i].code() == absl::StatusCode::kResourceExhausted);
  }
  for (int i = 0; i <= 3; ++i) CHECK_FALSE(outcomes[i].Done());
  CHECK(client->Stats().failed_resource_exhausted == 2);

  server.Release();
  for (int i = 0; i <= 3; ++i) REQUIRE(outcomes[i].Wait().ok());
  CHECK(client->Stats().queue_depth == 0);
}

TEST_CASE(
    "batching client: a look-up queued past its deadline fails DEADLINE_EXCEEDED while the server "
    "stalls",
    "[batching][deadline]") {
  ScriptedInventory server;
  BatchingInventoryClientOptions options = ClientOptions(server.port());
  options.max_in_flight_batches = 1;
  options.max_linger = absl::Seconds(10);
  std::deque<Outcome> outcomes(3);
  auto client = MakeClient(options);
  server.Park(true);
  client->Lookup("held", DeadlineIn(absl::Seconds(120)), outcomes[0].Callback());
  REQUIRE(server.WaitParked(1));
  // Queued first with a late deadline (the deadline alarm is set for it),
  // then one with an earlier deadline: the alarm must move forward.
  client->Lookup("late", DeadlineIn(absl::Seconds(120)), outcomes[1].Callback());
  client->Lookup("soon", DeadlineIn(absl::Milliseconds(300)), outcomes[2].Callback());
  // The guard is far below the other deadlines: only "soon"'s own deadline
  // can have ended it.
  absl::StatusOr<LookupResult> soon = outcomes[2].Wait(absl::Seconds(30));
  CHECK(soon.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK_FALSE(outcomes[0].Done());  // no batch completed meanwhile
  CHECK_FALSE(outcomes[1].Done());
  CHECK(server.CallsStarted(kBatchMethod) == 1);  // "soon" never reached the server
  client::BatchingInventoryClientStats stats = client->Stats();
  CHECK(stats.queue_depth == 1);
  CHECK(stats.failed_deadline_exceeded == 1);

  server.Release();
  REQUIRE(outcomes[0].Wait().ok());
  REQUIRE(outcomes[1].Wait().ok());
  for (const auto& batch : server.batches()) {
    for (const std::string& id : batch) CHECK(id != "soon");
  }
}

TEST_CASE("batching client: a caller cancelled before its batch is sent is dropped from it",
          "[batching][cancel]") {
  ScriptedInventory server;
  server.SetQuantity("c", 3);
  BatchingInventoryClientOptions options = ClientOptions(server.port());
  options.max_in_flight_batches = 1;
  options.max_linger = absl::Seconds(10);
  std::deque<Outcome> outcomes(3);
  auto client = MakeClient(options);
  server.Park(true);
  LookupTicket a = client->Lookup("a", DeadlineIn(absl::Seconds(60)), outcomes[0].Callback());
  REQUIRE(server.WaitParked(1));
  LookupTicket b = client->Lookup("b", DeadlineIn(absl::Seconds(60)), outcomes[1].Callback());
  client->Lookup("c", DeadlineIn(absl::Seconds(60)), outcomes[2].Callback());
  REQUIRE(b.Cancel());
  REQUIRE(outcomes[1].Done());  // inline, on this thread
  CHECK(outcomes[1].code() == absl::StatusCode::kCancelled);
  CHECK(client->Stats().queue_depth == 1);
  CHECK_FALSE(b.Cancel());  // once only

  server.Release();
  REQUIRE(outcomes[0].Wait().ok());
  absl::StatusOr<LookupResult> c_result = outcomes[2].Wait();
  REQUIRE(c_result.ok());
  CHECK(c_result->quantity == 3);
  const std::vector<std::vector<std::string>> batches = server.batches();
  REQUIRE(batches.size() == 2);
  CHECK(batches[1] == std::vector<std::string>{"c"});
  CHECK_FALSE(a.Cancel());  // already answered
  CHECK_FALSE(LookupTicket().Cancel());
  CHECK(outcomes[1].calls() == 1);
  CHECK(client->Stats().failed_cancelled == 1);
}

TEST_CASE(
    "batching client: cancelling a sent look-up answers CANCELLED and cancels a batch nobody wants",
    "[batching][cancel]") {
  ScriptedInventory server;
  std::deque<Outcome> outcomes(1);
  auto client = MakeClient(ClientOptions(server.port()));
  server.Park(true);
  LookupTicket ticket = client->Lookup("a", DeadlineIn(absl::Seconds(60)), outcomes[0].Callback());
  REQUIRE(server.WaitParked(1));
  REQUIRE(ticket.Cancel());
  CHECK(outcomes[0].code() == absl::StatusCode::kCancelled);
  // Its only caller is gone, so the RPC itself was cancelled.
  REQUIRE(WaitUntil([&] { return server.AllParkedCancelled(); }));
  REQUIRE(WaitUntil([&] { return client->Stats().rpcs_in_flight == 0; }));
  server.Release();
  CHECK(outcomes[0].calls() == 1);
}

TEST_CASE("batching client: a batch carries the earliest deadline of its callers",
          "[batching][deadline]") {
  ScriptedInventory server;
  BatchingInventoryClientOptions options = ClientOptions(server.port());
  options.max_linger = absl::Seconds(10);
  std::deque<Outcome> outcomes(3);
  auto client = MakeClient(options);
  const absl::Time start = absl::Now();
  {
    FrozenClientThread frozen(*client, "warm-up");
    client->Lookup("alone", DeadlineIn(absl::Seconds(600)), outcomes[0].Callback());
    client->Lookup("late", DeadlineIn(absl::Seconds(600)), outcomes[1].Callback());
    client->Lookup("early", DeadlineIn(absl::Seconds(30)), outcomes[2].Callback());
  }
  REQUIRE(AllDone(outcomes));
  const std::vector<std::vector<std::string>> batches = server.batches();
  const std::vector<absl::Time> deadlines = server.deadlines();
  REQUIRE(batches.size() == 3);
  CHECK(batches[1] == std::vector<std::string>{"alone"});
  CHECK(batches[2] == std::vector<std::string>{"late", "early"});
  // Ten minutes against half a minute: far apart enough for any clock skew.
  CHECK(deadlines[1] > start + absl::Seconds(300));
  CHECK(deadlines[2] < start + absl::Seconds(60));
}

TEST_CASE("batching client: batches go round robin over the channels, each its own connection",
          "[batching][connections]") {
  ScriptedInventory server;
  BatchingInventoryClientOptions options = ClientOptions(server.port());
  options.channels = 3;
  std::deque<Outcome> outcomes(6);
  auto client = MakeClient(options);
  for (Outcome& outcome : outcomes) {
    client->Lookup("a", DeadlineIn(absl::Seconds(60)), outcome.Callback());
    REQUIRE(outcome.Wait().ok());  // one at a time: one batch each
  }
  const std::vector<std::string> peers = server.peers();
  REQUIRE(peers.size() == 6);
  CHECK(std::set<std::string>(peers.begin(), peers.end()).size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(peers[i] == peers[i + 3]);
}

TEST_CASE(
    "batching client: an inventory restart: UNAVAILABLE while it is down, served again on the same "
    "port",
    "[batching][failover]") {
  RealInventory inventory({{"product123", 10}});
  const int port = inventory.port();
  BatchingInventoryClientOptions options;
  options.target = absl::StrCat("dns:///127.0.0.1:", port);
  options.initial_reconnect_backoff = absl::Milliseconds(50);
  options.max_reconnect_backoff = absl::Milliseconds(200);
  std::deque<Outcome> outcomes;
  auto client = MakeClient(options);
  auto lookup = [&](absl::Duration timeout) -> const Outcome& {
    Outcome& outcome = outcomes.emplace_back();
    client->Lookup("product123", DeadlineIn(timeout), outcome.Callback());
    return outcome;
  };
  REQUIRE(lookup(absl::Seconds(30)).Wait().ok());

  inventory.Stop();
  for (int i = 0; i < 10; ++i) {
    // Failed fast by the channel (after its retries), not by the deadline.
    absl::StatusOr<LookupResult> result = lookup(absl::Seconds(20)).Wait(absl::Seconds(60));
    INFO("while down: " << result.status());
    CHECK(result.status().code() == absl::StatusCode::kUnavailable);
  }

  inventory.Start(port);
  REQUIRE(inventory.port() == port);
  REQUIRE(WaitUntil([&] { return lookup(absl::Seconds(5)).Wait(absl::Seconds(30)).ok(); },
                    absl::Seconds(60)));
  const std::size_t first = outcomes.size();
  for (int i = 0; i < 200; ++i) lookup(absl::Seconds(30));
  for (std::size_t i = first; i < outcomes.size(); ++i) {
    absl::StatusOr<LookupResult> result = outcomes[i].Wait();
    INFO("after the restart: " << result.status());
    REQUIRE(result.ok());
    CHECK(result->quantity == 10);
  }
  const client::BatchingInventoryClientStats stats = client->Stats();
  CHECK(stats.queue_depth == 0);
  CHECK(stats.rpcs_in_flight == 0);
  CHECK(stats.lookups_requested ==
        static_cast<std::int64_t>(outcomes.size()));  // every callback ran once
  CHECK(stats.lookups_succeeded + FailedTotal(stats) == stats.lookups_requested);
}

TEST_CASE("batching client: batching=false sends each look-up as its own unary RPC",
          "[batching][unary]") {
  RealInventory inventory(domain::inventory::SyntheticCatalog(100));
  BatchingInventoryClientOptions options = ClientOptions(inventory.port());
  options.batching = false;
  constexpr int kLookups = 200;
  std::deque<Outcome> outcomes(kLookups);
  auto id = [](int i) { return absl::StrFormat("sku-%08d", i % 100); };
  auto client = MakeClient(options);
  for (int i = 0; i < kLookups; ++i) {
    client->Lookup(id(i), DeadlineIn(absl::Seconds(60)), outcomes[i].Callback());
  }
  REQUIRE(AllDone(outcomes));
  for (int i = 0; i < kLookups; ++i) {
    absl::StatusOr<LookupResult> result = outcomes[i].Wait();
    REQUIRE(result.ok());
    CHECK(result->quantity == inventory.store().Get(id(i)).quantity);
  }
  CHECK(inventory.CallsStarted(kUnaryMethod) == kLookups);
  CHECK(inventory.CallsStarted(kBatchMethod) == 0);
  const client::BatchingInventoryClientStats stats = client->Stats();
  CHECK(stats.rpcs_sent == kLookups);
  CHECK(stats.batches_sent == 0);
  CHECK(stats.lookups_succeeded == kLookups);
}

TEST_CASE("batching client: batching=false keeps the bound, cancellation and immediate failures",
          "[batching][unary]") {
  ScriptedInventory server;
  server.SetQuantity("a", 4);
  BatchingInventoryClientOptions options = ClientOptions(server.port());
  options.batching = false;
  options.max_queued_lookups = 2;
  std::deque<Outcome> outcomes(5);
  auto client = MakeClient(options);
  server.Park(true);
  LookupTicket a = client->Lookup("a", DeadlineIn(absl::Seconds(60)), outcomes[0].Callback());
  LookupTicket b = client->Lookup("a", DeadlineIn(absl::Seconds(60)), outcomes[1].Callback());
  REQUIRE(server.WaitParked(2));
  client->Lookup("a", DeadlineIn(absl::Seconds(60)), outcomes[2].Callback());
  REQUIRE(outcomes[2].Done());
  CHECK(outcomes[2].code() == absl::StatusCode::kResourceExhausted);
  client->Lookup("", DeadlineIn(absl::Seconds(60)), outcomes[3].Callback());
  REQUIRE(outcomes[3].Done());
  CHECK(outcomes[3].code() == absl::StatusCode::kInvalidArgument);
  client->Lookup("a", absl::Now() - absl::Seconds(1), outcomes[4].Callback());
  REQUIRE(outcomes[4].Done());
  CHECK(outcomes[4].code() == absl::StatusCode::kDeadlineExceeded);

  REQUIRE(b.Cancel());
  CHECK(outcomes[1].code() == absl::StatusCode::kCancelled);
  REQUIRE(WaitUntil([&] { return client->Stats().rpcs_in_flight == 1; }));
  server.Release();
  absl::StatusOr<LookupResult> result = outcomes[0].Wait();
  REQUIRE(result.ok());
  CHECK(result->quantity == 4);
  CHECK(server.CallsStarted(kUnaryMethod) == 2);
  CHECK(outcomes[1].calls() == 1);
  CHECK_FALSE(a.Cancel());
}

TEST_CASE(
    "batching client: shutdown with look-ups queued and in flight calls every callback exactly "
    "once",
    "[batching][shutdown]") {
  ScriptedInventory server;
  BatchingInventoryClientOptions options = ClientOptions(server.port());
  options.max_in_flight_batches = 2;
  options.max_batch_size = 5;
  options.max_linger = absl::ZeroDuration();  // a free slot takes whatever is queued
  constexpr int kLookups = 30;
  std::deque<Outcome> outcomes(kLookups + 1);
  auto client = MakeClient(options);
  server.Park(true);
  for (int i = 0; i < kLookups; ++i) {
    client->Lookup(absl::StrCat("id", i), DeadlineIn(absl::Seconds(120)), outcomes[i].Callback());
  }
  REQUIRE(server.WaitParked(2));  // two batches held by the server, the rest queued
  client::BatchingInventoryClientStats stats = client->Stats();
  CHECK(stats.rpcs_in_flight == 2);
  CHECK(stats.queue_depth == kLookups - stats.lookups_sent);

  client->Shutdown();
  for (int i = 0; i < kLookups; ++i) {
    INFO("look-up " << i);
    REQUIRE(outcomes[i].calls() == 1);  // already, without waiting
    CHECK(outcomes[i].code() == absl::StatusCode::kCancelled);
  }
  client->Lookup("late", DeadlineIn(absl::Seconds(60)), outcomes[kLookups].Callback());
  REQUIRE(outcomes[kLookups].Done());
  CHECK(outcomes[kLookups].code() == absl::StatusCode::kUnavailable);
  stats = client->Stats();
  CHECK(stats.failed_cancelled == kLookups);
  CHECK(stats.failed_shut_down == 1);
  CHECK(stats.queue_depth == 0);
  CHECK(stats.rpcs_in_flight == 0);
  client->Shutdown();  // idempotent
  client.reset();
  server.Release();
  for (const Outcome& outcome : outcomes) CHECK(outcome.calls() == 1);
}

// A completion queue drained by a thread the test owns, the way an
// engine::Engine drains its queues: every event goes to its engine::Tag.
class BorrowedQueue {
 public:
  BorrowedQueue()
      : thread_([this] {
          bool ok = false;
          while (engine::Tag* tag = engine::Tag::Next(&cq_, &ok)) {
            events_.fetch_add(1, std::memory_order_relaxed);
            tag->Complete(ok);
          }
        }) {}
  ~BorrowedQueue() { Close(); }

  grpc::CompletionQueue* cq() { return &cq_; }
  std::thread::id thread_id() const { return thread_.get_id(); }
  std::int64_t events() const { return events_.load(std::memory_order_relaxed); }
  // Shuts the queue down and joins its thread, which returns once every
  // outstanding operation on the queue has delivered its event.
  void Close() {
    if (!thread_.joinable()) return;
    cq_.Shutdown();
    thread_.join();
  }

 private:
  grpc::CompletionQueue cq_;
  std::atomic<std::int64_t> events_{0};
  std::thread thread_;
};

TEST_CASE("batching client: on borrowed queues, replies arrive on the queue owner's thread",
          "[batching][borrowed]") {
  constexpr int kLookups = 400;
  RealInventory inventory(domain::inventory::SyntheticCatalog(kLookups));
  BorrowedQueue queue;
  BatchingInventoryClientOptions options = ClientOptions(inventory.port());
  options.completion_queues = {queue.cq()};
  options.max_batch_size = 50;
  std::deque<Outcome> outcomes(kLookups);
  absl::Mutex mu;
  std::set<std::thread::id> callback_threads;
  auto id = [](int i) { return absl::StrFormat("sku-%08d", i); };
  auto client = MakeClient(options);
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int i = t; i < kLookups; i += 4) {
        client->Lookup(
            id(i), DeadlineIn(absl::Seconds(120)),
            [&, done = outcomes[i].Callback()](absl::StatusOr<LookupResult> result) mutable {
              {
                absl::MutexLock lock(&mu);
                callback_threads.insert(std::this_thread::get_id());
              }
              std::move(done)(std::move(result));
            });
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  REQUIRE(AllDone(outcomes));
  for (int i = 0; i < kLookups; ++i) {
    absl::StatusOr<LookupResult> result = outcomes[i].Wait();
    REQUIRE(result.ok());
    REQUIRE(result->quantity == inventory.store().Get(id(i)).quantity);
  }
  {
    absl::MutexLock lock(&mu);
    CHECK(callback_threads == std::set<std::thread::id>{queue.thread_id()});
  }
  const client::BatchingInventoryClientStats stats = client->Stats();
  CHECK(stats.lookups_succeeded == kLookups);
  CHECK(stats.batches_sent < kLookups);  // merged, not one RPC per look-up
  // Every batch's completion came through the borrowed queue.
  CHECK(queue.events() >= stats.batches_sent);
  client->Shutdown();
  queue.Close();  // would hang if the client had left an operation on it
}

// Runs `work` on the thread that drains `queue` (an alarm's event), the way
// a server handler runs on its queue's thread, and waits until it has run.
void RunOnQueueThread(grpc::CompletionQueue* queue, std::function<void()> work) {
  class Job final : public engine::CompletionHandler {
   public:
    explicit Job(std::function<void()> work) : work_(std::move(work)) {}
    void Start(grpc::CompletionQueue* queue) {
      alarm_.Set(queue, absl::ToChronoTime(absl::Now()), tag_.ToCompletionQueueTag());
    }
    void OnCompletion(engine::CompletionKind, bool) override {
      work_();
      absl::MutexLock lock(&mu_);  // a Mutex, which the TSan build can see
      done_ = true;
    }
    bool done() {
      absl::MutexLock lock(&mu_);
      return done_;
    }

   private:
    std::function<void()> work_;
    engine::Tag tag_{this, engine::CompletionKind::kWake};
    grpc::Alarm alarm_;
    absl::Mutex mu_;
    bool done_ ABSL_GUARDED_BY(mu_) = false;
  };
  Job job(std::move(work));
  job.Start(queue);
  REQUIRE(WaitUntil([&] { return job.done(); }));
}

TEST_CASE(
    "batching client: with several borrowed queues, a look-up made on a queue's thread is "
    "answered on that thread",
    "[batching][borrowed]") {
  constexpr int kPerQueue = 150;
  RealInventory inventory(domain::inventory::SyntheticCatalog(2 * kPerQueue));
  std::deque<BorrowedQueue> queues(2);
  BatchingInventoryClientOptions options = ClientOptions(inventory.port());
  options.completion_queues = {queues[0].cq(), queues[1].cq()};
  options.max_batch_size = 20;
  auto id = [](int i) { return absl::StrFormat("sku-%08d", i); };
  std::deque<Outcome> outcomes(2 * kPerQueue + 1);
  absl::Mutex mu;
  std::vector<std::thread::id> answered_on(outcomes.size());  // guarded by mu
  std::vector<std::thread::id> asked_on(outcomes.size());     // guarded by mu
  auto client = MakeClient(options);
  auto ask = [&](int i) {
    {
      absl::MutexLock lock(&mu);
      asked_on[i] = std::this_thread::get_id();
    }
    client->Lookup(
        id(i % (2 * kPerQueue)), DeadlineIn(absl::Seconds(120)),
        [&, i, done = outcomes[i].Callback()](absl::StatusOr<LookupResult> result) mutable {
          {
            absl::MutexLock lock(&mu);
            answered_on[i] = std::this_thread::get_id();
          }
          std::move(done)(std::move(result));
        });
  };
  for (int q = 0; q < 2; ++q) {
    RunOnQueueThread(queues[q].cq(), [&, q] {
      for (int i = q * kPerQueue; i < (q + 1) * kPerQueue; ++i) ask(i);
    });
  }
  ask(2 * kPerQueue);  // from a thread that drains no queue: some lane answers it
  REQUIRE(AllDone(outcomes));
  for (int i = 0; i < 2 * kPerQueue; ++i) {
    INFO("look-up " << i);
    absl::StatusOr<LookupResult> result = outcomes[i].Wait();
    REQUIRE(result.ok());
    CHECK(result->quantity == inventory.store().Get(id(i)).quantity);
    absl::MutexLock lock(&mu);
    CHECK(asked_on[i] == queues[i / kPerQueue].thread_id());
    CHECK(answered_on[i] == asked_on[i]);
  }
  REQUIRE(outcomes[2 * kPerQueue].Wait().ok());
  {
    absl::MutexLock lock(&mu);
    const std::thread::id foreign = answered_on[2 * kPerQueue];
    CHECK((foreign == queues[0].thread_id() || foreign == queues[1].thread_id()));
  }
  const client::BatchingInventoryClientStats stats = client->Stats();
  CHECK(stats.lookups_requested == 2 * kPerQueue + 1);
  CHECK(stats.lookups_succeeded == 2 * kPerQueue + 1);
  CHECK(stats.batches_sent < 2 * kPerQueue);  // merged within each lane
  CHECK(stats.queue_depth == 0);
  client->Shutdown();
  for (BorrowedQueue& queue : queues) queue.Close();  // would hang on a leftover operation
}

TEST_CASE(
    "batching client: on borrowed queues, Shutdown cancels a batch in flight and leaves nothing "
    "on the queue",
    "[batching][borrowed][shutdown]") {
  ScriptedInventory server;
  BorrowedQueue queue;
  BatchingInventoryClientOptions options = ClientOptions(server.port());
  options.completion_queues = {queue.cq()};
  options.max_in_flight_batches = 1;
  options.max_linger = absl::Seconds(30);  // the queued look-ups wait on an alarm
  std::deque<Outcome> outcomes(3);
  auto client = MakeClient(options);
  server.Park(true);
  client->Lookup("in-flight", DeadlineIn(absl::Seconds(120)), outcomes[0].Callback());
  REQUIRE(server.WaitParked(1));
  client->Lookup("queued-1", DeadlineIn(absl::Seconds(120)), outcomes[1].Callback());
  client->Lookup("queued-2", DeadlineIn(absl::Seconds(90)), outcomes[2].Callback());
  CHECK(client->Stats().queue_depth == 2);

  client->Shutdown();  // the queue's owner is still draining it, as required
  for (const Outcome& outcome : outcomes) REQUIRE(outcome.calls() == 1);
  CHECK(outcomes[0].code() == absl::StatusCode::kCancelled);
  CHECK(outcomes[1].code() == absl::StatusCode::kCancelled);
  CHECK(outcomes[2].code() == absl::StatusCode::kCancelled);
  const std::int64_t events_at_shutdown = queue.events();
  queue.Close();
  CHECK(queue.events() == events_at_shutdown);  // nothing of the client's was left
  server.Release();
}

TEST_CASE("batching client: options are validated, naming the bad field", "[batching][options]") {
  const auto error = [](auto mutate) {
    BatchingInventoryClientOptions options;
    options.target = "127.0.0.1:1";
    mutate(options);
    absl::StatusOr<std::unique_ptr<BatchingInventoryClient>> made =
        BatchingInventoryClient::Create(options);
    REQUIRE_FALSE(made.ok());
    CHECK(made.status().code() == absl::StatusCode::kInvalidArgument);
    return std::string(made.status().message());
  };
  CHECK_THAT(error([](auto& o) { o.target = ""; }), Catch::Contains("target"));
  CHECK_THAT(error([](auto& o) { o.channels = 0; }), Catch::Contains("channels"));
  CHECK_THAT(error([](auto& o) { o.max_batch_size = 1001; }), Catch::Contains("max_batch_size"));
  CHECK_THAT(error([](auto& o) { o.max_in_flight_batches = 0; }),
             Catch::Contains("max_in_flight_batches"));
  CHECK_THAT(error([](auto& o) { o.max_queued_lookups = 0; }),
             Catch::Contains("max_queued_lookups"));
  CHECK_THAT(error([](auto& o) { o.max_linger = -absl::Milliseconds(1); }),
             Catch::Contains("max_linger"));
  CHECK_THAT(error([](auto& o) { o.retry_max_attempts = 6; }),
             Catch::Contains("retry_max_attempts"));
  CHECK_THAT(error([](auto& o) { o.completion_queues = {nullptr}; }),
             Catch::Contains("completion_queues"));
  CHECK(client::ValidateBatchingInventoryClientOptions([] {
          BatchingInventoryClientOptions options;
          options.target = "dns:///inventory:50051";
          return options;
        }())
            .ok());
}

TEST_CASE("batching client: the service config asks for round_robin and retries UNAVAILABLE",
          "[batching][options]") {
  BatchingInventoryClientOptions options;
  options.target = "dns:///inventory:50051";
  const std::string json = client::InventoryServiceConfigJson(options);
  CHECK_THAT(json, Catch::Contains(R"("loadBalancingConfig":[{"round_robin":{}}])"));
  CHECK_THAT(json, Catch::Contains(R"("method":"GetProductAvailability")"));
  CHECK_THAT(json, Catch::Contains(R"("method":"BatchGetProductAvailability")"));
  CHECK_THAT(json, Catch::Contains(R"("maxAttempts":3)"));
  CHECK_THAT(json, Catch::Contains(R"("retryableStatusCodes":["UNAVAILABLE"])"));
  options.retry_max_attempts = 1;
  CHECK_THAT(client::InventoryServiceConfigJson(options), !Catch::Contains("retryPolicy"));
}
