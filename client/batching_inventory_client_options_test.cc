// The batching client's options: validation naming the bad field, and the
// service config each channel gets. No server.
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "client/batching_inventory_client.h"

namespace {

using client::BatchingInventoryClient;
using client::BatchingInventoryClientOptions;

}  // namespace

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
