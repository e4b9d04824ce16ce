// The batching client with batching = false, the kill switch: one unary
// GetProductAvailability per look-up, with the same bound, cancellation and
// immediate failures. Real and scripted servers on loopback. Waits are hang
// guards, never performance thresholds.
#include <catch2/catch.hpp>
#include <deque>
#include <string>

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
using client::LookupTicket;
using testing_util::AbslDeadlineIn;
using testing_util::AllDone;
using testing_util::ClientOptionsFor;
using testing_util::InventoryTestServer;
using testing_util::kBatchMethod;
using testing_util::kUnaryMethod;
using testing_util::MakeClient;
using testing_util::Outcome;
using testing_util::ScriptedInventory;
using testing_util::WaitUntil;

}  // namespace

TEST_CASE("batching client: batching=false sends each look-up as its own unary RPC",
          "[batching][unary]") {
  InventoryTestServer inventory(domain::inventory::SyntheticCatalog(100));
  BatchingInventoryClientOptions options = ClientOptionsFor(inventory.port());
  options.batching = false;
  constexpr int kLookups = 200;
  std::deque<Outcome> outcomes(kLookups);
  auto id = [](int i) { return absl::StrFormat("sku-%08d", i % 100); };
  auto client = MakeClient(options);
  for (int i = 0; i < kLookups; ++i) {
    client->Lookup(id(i), AbslDeadlineIn(absl::Seconds(60)), outcomes[i].Callback());
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
  BatchingInventoryClientOptions options = ClientOptionsFor(server.port());
  options.batching = false;
  options.max_queued_lookups = 2;
  std::deque<Outcome> outcomes(5);
  auto client = MakeClient(options);
  server.Park(true);
  LookupTicket a = client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), outcomes[0].Callback());
  LookupTicket b = client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), outcomes[1].Callback());
  REQUIRE(server.WaitParked(2));
  client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), outcomes[2].Callback());
  REQUIRE(outcomes[2].Done());
  CHECK(outcomes[2].code() == absl::StatusCode::kResourceExhausted);
  client->Lookup("", AbslDeadlineIn(absl::Seconds(60)), outcomes[3].Callback());
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
