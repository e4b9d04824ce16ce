// The batching client's Shutdown with look-ups queued and in flight: every
// callback exactly once, later look-ups UNAVAILABLE. A scripted server that
// holds calls, on loopback.
#include <catch2/catch.hpp>
#include <deque>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/batching_inventory_client.h"
#include "test/batching_client_testing.h"
#include "test/scripted_inventory.h"
#include "test/test_util.h"

namespace {

using client::BatchingInventoryClientOptions;
using testing_util::AbslDeadlineIn;
using testing_util::ClientOptionsFor;
using testing_util::MakeClient;
using testing_util::Outcome;
using testing_util::ScriptedInventory;

}  // namespace

TEST_CASE(
    "batching client: shutdown with look-ups queued and in flight calls every callback exactly "
    "once",
    "[batching][shutdown]") {
  ScriptedInventory server;
  BatchingInventoryClientOptions options = ClientOptionsFor(server.port());
  options.max_in_flight_batches = 2;
  options.max_batch_size = 5;
  options.max_linger = absl::ZeroDuration();  // a free slot takes whatever is queued
  constexpr int kLookups = 30;
  std::deque<Outcome> outcomes(kLookups + 1);
  auto client = MakeClient(options);
  server.Park(true);
  for (int i = 0; i < kLookups; ++i) {
    client->Lookup(absl::StrCat("id", i), AbslDeadlineIn(absl::Seconds(120)),
                   outcomes[i].Callback());
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
  client->Lookup("late", AbslDeadlineIn(absl::Seconds(60)), outcomes[kLookups].Callback());
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
