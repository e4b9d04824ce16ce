// The batching client on completion queues someone else drains (a
// server's, as product_server runs it): replies on the owner's thread, one
// lane per queue, and Shutdown leaving nothing on the queues. Real and
// scripted servers on loopback. Waits are hang guards, never performance
// thresholds.
#include <catch2/catch.hpp>
#include <deque>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "client/batching_inventory_client.h"
#include "domain/inventory/catalog.h"
#include "test/batching_client_testing.h"
#include "test/inventory_test_server.h"
#include "test/scripted_inventory.h"
#include "test/test_util.h"

namespace {

using client::BatchingInventoryClientOptions;
using client::LookupResult;
using testing_util::AbslDeadlineIn;
using testing_util::AllDone;
using testing_util::BorrowedQueue;
using testing_util::ClientOptionsFor;
using testing_util::InventoryTestServer;
using testing_util::MakeClient;
using testing_util::Outcome;
using testing_util::RunOnQueueThread;
using testing_util::ScriptedInventory;

}  // namespace

TEST_CASE("batching client: on borrowed queues, replies arrive on the queue owner's thread",
          "[batching][borrowed]") {
  constexpr int kLookups = 400;
  InventoryTestServer inventory(domain::inventory::SyntheticCatalog(kLookups));
  BorrowedQueue queue;
  BatchingInventoryClientOptions options = ClientOptionsFor(inventory.port());
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
            id(i), AbslDeadlineIn(absl::Seconds(120)),
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

TEST_CASE(
    "batching client: with several borrowed queues, a look-up made on a queue's thread is "
    "answered on that thread",
    "[batching][borrowed]") {
  constexpr int kPerQueue = 150;
  InventoryTestServer inventory(domain::inventory::SyntheticCatalog(2 * kPerQueue));
  std::deque<BorrowedQueue> queues(2);
  BatchingInventoryClientOptions options = ClientOptionsFor(inventory.port());
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
        id(i % (2 * kPerQueue)), AbslDeadlineIn(absl::Seconds(120)),
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
  BatchingInventoryClientOptions options = ClientOptionsFor(server.port());
  options.completion_queues = {queue.cq()};
  options.max_in_flight_batches = 1;
  options.max_linger = absl::Seconds(30);  // the queued look-ups wait on an alarm
  std::deque<Outcome> outcomes(3);
  auto client = MakeClient(options);
  server.Park(true);
  client->Lookup("in-flight", AbslDeadlineIn(absl::Seconds(120)), outcomes[0].Callback());
  REQUIRE(server.WaitParked(1));
  client->Lookup("queued-1", AbslDeadlineIn(absl::Seconds(120)), outcomes[1].Callback());
  client->Lookup("queued-2", AbslDeadlineIn(absl::Seconds(90)), outcomes[2].Callback());
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
