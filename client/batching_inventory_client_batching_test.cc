// The batching client: how look-ups become batch RPCs. Sent at once when
// idle, merged under load, each caller answered for its own id, ids asked
// once per batch, bad ids failing only their caller, and RPC errors (a failed
// batch, UNAVAILABLE retried by the channel). Against the real
// InventoryService or a scripted one, on ephemeral loopback ports, over real
// channels; batch counts are the server's own. Waits are hang guards, never
// performance thresholds.
#include <atomic>
#include <catch2/catch.hpp>
#include <deque>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/batching_inventory_client.h"
#include "domain/inventory/catalog.h"
#include "test/batching_client_testing.h"
#include "test/inventory_methods.h"
#include "test/inventory_test_server.h"
#include "test/scripted_inventory.h"
#include "test/test_util.h"

namespace {

using client::BatchingInventoryClientOptions;
using client::LookupResult;
using testing_util::AbslDeadlineIn;
using testing_util::AllDone;
using testing_util::ClientOptionsFor;
using testing_util::CountingListener;
using testing_util::FrozenClientThread;
using testing_util::InventoryTestServer;
using testing_util::kBatchMethod;
using testing_util::MakeClient;
using testing_util::Outcome;
using testing_util::ScriptedInventory;
using testing_util::WaitUntil;

}  // namespace

TEST_CASE("batching client: a lone look-up on an idle client is sent at once, not after the linger",
          "[batching]") {
  InventoryTestServer inventory({{"product123", 10}});
  BatchingInventoryClientOptions options = ClientOptionsFor(inventory.port());
  options.max_linger = absl::Seconds(10);
  std::deque<Outcome> outcomes(4);
  auto client = MakeClient(options);
  for (int i = 0; i < 4; ++i) {
    client->Lookup("product123", AbslDeadlineIn(absl::Seconds(60)), outcomes[i].Callback());
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
  InventoryTestServer inventory(domain::inventory::SyntheticCatalog(kLookups));
  BatchingInventoryClientOptions options = ClientOptionsFor(inventory.port());
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
          client->Lookup(id(i), AbslDeadlineIn(absl::Seconds(120)), outcomes[i].Callback());
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
  InventoryTestServer inventory({});
  constexpr int kProducts = 8;
  for (int p = 0; p < kProducts; ++p) {
    REQUIRE(inventory.store().Set(absl::StrCat("p", p), 10 * p).ok());  // p0 is out of stock
  }
  constexpr int kLookups = 400;
  std::deque<Outcome> outcomes(kLookups);
  // One id more than the store knows: "p8" answers {false, 0}.
  auto id = [](int i) { return absl::StrCat("p", i % (kProducts + 1)); };
  auto client = MakeClient(ClientOptionsFor(inventory.port()));
  {
    FrozenClientThread frozen(*client, "p1");
    for (int i = 0; i < kLookups; ++i) {
      client->Lookup(id(i), AbslDeadlineIn(absl::Seconds(60)), outcomes[i].Callback());
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
  BatchingInventoryClientOptions options = ClientOptionsFor(server.port());
  options.max_linger = absl::Seconds(10);  // batches cut by completions only, not by time
  auto client = MakeClient(options);
  {
    FrozenClientThread frozen(*client, "a");
    for (int i = 0; i < kLookups; ++i) {
      client->Lookup(ids[i % 3], AbslDeadlineIn(absl::Seconds(60)), outcomes[i].Callback());
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
  InventoryTestServer inventory({{"a", 1}, {"b", 2}});
  std::deque<Outcome> outcomes;
  const std::vector<std::string> bad = {"", std::string(129, 'x'), "tab\there", "\xc3\x28"};
  auto client = MakeClient(ClientOptionsFor(inventory.port()));
  {
    FrozenClientThread frozen(*client, "a");
    for (int round = 0; round < 3; ++round) {
      for (const std::string& id : {std::string("a"), std::string("b")}) {
        client->Lookup(id, AbslDeadlineIn(absl::Seconds(60)), outcomes.emplace_back().Callback());
      }
      for (const std::string& id : bad) {
        Outcome& outcome = outcomes.emplace_back();
        client->Lookup(id, AbslDeadlineIn(absl::Seconds(60)), outcome.Callback());
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
  BatchingInventoryClientOptions options = ClientOptionsFor(server.port());
  options.max_linger = absl::Seconds(10);
  std::deque<Outcome> outcomes(5);
  auto client = MakeClient(options);
  {
    FrozenClientThread frozen(*client, "a");
    server.FailNext(2, absl::FailedPreconditionError("scripted failure"));
    // One batch of 1 (nothing in flight), then one of 4 once it completes.
    for (Outcome& outcome : outcomes) {
      client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), outcome.Callback());
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
  client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), after.Callback());
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
    auto client = MakeClient(ClientOptionsFor(server.port()));
    server.FailNext(1, absl::UnavailableError("scripted: try again"));
    client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), outcomes[0].Callback());
    absl::StatusOr<LookupResult> result = outcomes[0].Wait();
    REQUIRE(result.ok());
    CHECK(result->quantity == 7);
    CHECK(server.CallsStarted(kBatchMethod) == 2);
    CHECK(client->Stats().rpcs_sent == 1);  // one RPC for the client; gRPC made two attempts
  }
  SECTION("with retries off the caller sees UNAVAILABLE") {
    BatchingInventoryClientOptions options = ClientOptionsFor(server.port());
    options.retry_max_attempts = 1;
    auto client = MakeClient(options);
    server.FailNext(1, absl::UnavailableError("scripted: try again"));
    client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), outcomes[1].Callback());
    CHECK(outcomes[1].code() == absl::StatusCode::kUnavailable);
    CHECK(server.CallsStarted(kBatchMethod) == 1);
  }
}
