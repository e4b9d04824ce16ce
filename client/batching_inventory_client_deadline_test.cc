// The batching client: deadlines, cancellation and backpressure. A full
// queue, look-ups expiring while queued, cancelled before and after their
// batch is sent, and the deadline a batch carries. Against a scripted
// InventoryService that holds calls, on an ephemeral loopback port. Waits are
// hang guards, never performance thresholds.
#include <catch2/catch.hpp>
#include <deque>
#include <string>
#include <vector>

#include "client/batching_inventory_client.h"
#include "test/batching_client_testing.h"
#include "test/inventory_methods.h"
#include "test/scripted_inventory.h"
#include "test/test_util.h"

namespace {

using client::BatchingInventoryClientOptions;
using client::LookupResult;
using client::LookupTicket;
using testing_util::AbslDeadlineIn;
using testing_util::AllDone;
using testing_util::ClientOptionsFor;
using testing_util::FrozenClientThread;
using testing_util::kBatchMethod;
using testing_util::MakeClient;
using testing_util::Outcome;
using testing_util::ScriptedInventory;
using testing_util::WaitUntil;

}  // namespace

TEST_CASE("batching client: a full queue fails fast with RESOURCE_EXHAUSTED",
          "[batching][backpressure]") {
  ScriptedInventory server;
  server.SetQuantity("a", 1);
  BatchingInventoryClientOptions options = ClientOptionsFor(server.port());
  options.max_in_flight_batches = 1;
  options.max_queued_lookups = 3;
  options.max_linger = absl::Seconds(10);
  std::deque<Outcome> outcomes(6);
  auto client = MakeClient(options);
  server.Park(true);
  client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), outcomes[0].Callback());  // sent, held
  REQUIRE(server.WaitParked(1));
  for (int i = 1; i <= 3; ++i) {
    client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), outcomes[i].Callback());  // queued
  }
  CHECK(client->Stats().queue_depth == 3);
  for (int i = 4; i <= 5; ++i) {
    client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), outcomes[i].Callback());
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
  BatchingInventoryClientOptions options = ClientOptionsFor(server.port());
  options.max_in_flight_batches = 1;
  options.max_linger = absl::Seconds(10);
  std::deque<Outcome> outcomes(3);
  auto client = MakeClient(options);
  server.Park(true);
  client->Lookup("held", AbslDeadlineIn(absl::Seconds(120)), outcomes[0].Callback());
  REQUIRE(server.WaitParked(1));
  // Queued first with a late deadline (the deadline alarm is set for it),
  // then one with an earlier deadline: the alarm must move forward.
  client->Lookup("late", AbslDeadlineIn(absl::Seconds(120)), outcomes[1].Callback());
  client->Lookup("soon", AbslDeadlineIn(absl::Milliseconds(300)), outcomes[2].Callback());
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
  BatchingInventoryClientOptions options = ClientOptionsFor(server.port());
  options.max_in_flight_batches = 1;
  options.max_linger = absl::Seconds(10);
  std::deque<Outcome> outcomes(3);
  auto client = MakeClient(options);
  server.Park(true);
  LookupTicket a = client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), outcomes[0].Callback());
  REQUIRE(server.WaitParked(1));
  LookupTicket b = client->Lookup("b", AbslDeadlineIn(absl::Seconds(60)), outcomes[1].Callback());
  client->Lookup("c", AbslDeadlineIn(absl::Seconds(60)), outcomes[2].Callback());
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
  auto client = MakeClient(ClientOptionsFor(server.port()));
  server.Park(true);
  LookupTicket ticket =
      client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), outcomes[0].Callback());
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
  BatchingInventoryClientOptions options = ClientOptionsFor(server.port());
  options.max_linger = absl::Seconds(10);
  std::deque<Outcome> outcomes(3);
  auto client = MakeClient(options);
  const absl::Time start = absl::Now();
  {
    FrozenClientThread frozen(*client, "warm-up");
    client->Lookup("alone", AbslDeadlineIn(absl::Seconds(600)), outcomes[0].Callback());
    client->Lookup("late", AbslDeadlineIn(absl::Seconds(600)), outcomes[1].Callback());
    client->Lookup("early", AbslDeadlineIn(absl::Seconds(30)), outcomes[2].Callback());
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
