#include "metrics/metrics_server.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "test/loopback.h"

namespace metrics {
namespace {

std::shared_ptr<prometheus::Registry> RegistryWithOneCounter() {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("metrics_server_test_total")
      .Help("A counter of this test.")
      .Register(*registry)
      .Add({})
      .Increment(7);
  return registry;
}

TEST_CASE("clients that connect and say nothing do not blind the scrape") {
  MetricsServerOptions options;
  options.workers = 2;
  options.request_timeout = absl::Seconds(1);
  const auto registry = RegistryWithOneCounter();  // the server holds it weakly
  auto server = MetricsServer::Start("127.0.0.1:0", registry, options);
  REQUIRE(server.ok());
  const int port = (*server)->port();

  // One silent client and one that stops halfway through its request line
  // each hold a worker, which was the whole endpoint with one worker.
  testing_util::IdleTcpConnection silent(port);
  testing_util::IdleTcpConnection half_request(port, "GET /metr");
  REQUIRE(silent.fd() >= 0);
  REQUIRE(half_request.fd() >= 0);
  absl::SleepFor(absl::Milliseconds(100));  // both are now in a worker

  // Every worker is held: the scrape waits for the request timeout to free
  // one, not civetweb's 30 s.
  const absl::Time start = absl::Now();
  const std::string text = testing_util::HttpGet(port, "/metrics", absl::Seconds(10));
  const absl::Duration waited = absl::Now() - start;
  INFO("scrape took " << absl::FormatDuration(waited) << ": " << text);
  CHECK(absl::StrContains(text, "metrics_server_test_total 7"));
  CHECK(waited < absl::Seconds(5));

  // The request timeout closed both idle connections.
  CHECK(silent.ClosedByServerWithin(absl::Seconds(5)));
  CHECK(half_request.ClosedByServerWithin(absl::Seconds(5)));
}

TEST_CASE("one idle client leaves the other workers to the scrape at once") {
  const auto registry = RegistryWithOneCounter();
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  REQUIRE(server.ok());
  const int port = (*server)->port();
  testing_util::IdleTcpConnection silent(port);
  REQUIRE(silent.fd() >= 0);
  absl::SleepFor(absl::Milliseconds(100));

  const absl::Time start = absl::Now();
  const std::string text = testing_util::HttpGet(port, "/metrics", absl::Seconds(10));
  INFO("scrape took " << absl::FormatDuration(absl::Now() - start));
  CHECK(absl::StrContains(text, "metrics_server_test_total 7"));
  // Well under the default 2 s request timeout the idle client holds its
  // worker for.
  CHECK(absl::Now() - start < absl::Seconds(1));
}

TEST_CASE("metrics server options out of range are refused, naming the value") {
  MetricsServerOptions no_workers;
  no_workers.workers = 0;
  auto refused = MetricsServer::Start("127.0.0.1:0", RegistryWithOneCounter(), no_workers);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(refused.status().message(), "not 0"));

  MetricsServerOptions no_timeout;
  no_timeout.request_timeout = absl::ZeroDuration();
  refused = MetricsServer::Start("127.0.0.1:0", RegistryWithOneCounter(), no_timeout);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace metrics
