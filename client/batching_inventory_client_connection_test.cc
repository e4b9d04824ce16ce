// The batching client's connections: batches spread round robin over the
// channels, each its own connection, and an inventory that restarts on the
// same port. Real servers on loopback. Waits are hang guards, never
// performance thresholds.
#include <catch2/catch.hpp>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/batching_inventory_client.h"
#include "test/batching_client_testing.h"
#include "test/inventory_test_server.h"
#include "test/scripted_inventory.h"
#include "test/test_util.h"

namespace {

using client::BatchingInventoryClientOptions;
using client::LookupResult;
using testing_util::AbslDeadlineIn;
using testing_util::ClientOptionsFor;
using testing_util::FailedTotal;
using testing_util::InventoryTestServer;
using testing_util::MakeClient;
using testing_util::Outcome;
using testing_util::ScriptedInventory;
using testing_util::WaitUntil;

}  // namespace

TEST_CASE("batching client: batches go round robin over the channels, each its own connection",
          "[batching][connections]") {
  ScriptedInventory server;
  BatchingInventoryClientOptions options = ClientOptionsFor(server.port());
  options.channels = 3;
  std::deque<Outcome> outcomes(6);
  auto client = MakeClient(options);
  for (Outcome& outcome : outcomes) {
    client->Lookup("a", AbslDeadlineIn(absl::Seconds(60)), outcome.Callback());
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
  InventoryTestServer inventory({{"product123", 10}});
  const int port = inventory.port();
  BatchingInventoryClientOptions options;
  options.target = absl::StrCat("dns:///127.0.0.1:", port);
  options.initial_reconnect_backoff = absl::Milliseconds(50);
  options.max_reconnect_backoff = absl::Milliseconds(200);
  std::deque<Outcome> outcomes;
  auto client = MakeClient(options);
  auto lookup = [&](absl::Duration timeout) -> const Outcome& {
    Outcome& outcome = outcomes.emplace_back();
    client->Lookup("product123", AbslDeadlineIn(timeout), outcome.Callback());
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

  inventory.Restart();
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
