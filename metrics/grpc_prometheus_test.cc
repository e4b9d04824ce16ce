#include "metrics/grpc_prometheus.h"

#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <string>

namespace metrics {
namespace {

std::string Scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST_CASE("server metrics use go-grpc-prometheus names, labels and Go code names") {
  prometheus::Registry registry;
  GrpcPrometheus server(registry, GrpcPrometheus::Side::kServer);
  MethodObserver* get =
      server.ObserveMethod("inventory.InventoryService/GetProductAvailability", RpcType::kUnary);
  REQUIRE(get != nullptr);
  get->OnStarted();
  get->OnStarted();
  get->OnHandled(grpc::StatusCode::OK, absl::Microseconds(300));
  get->OnHandled(grpc::StatusCode::INVALID_ARGUMENT, absl::Milliseconds(2));
  const std::string text = Scrape(registry);
  const std::string labels =
      "grpc_method=\"GetProductAvailability\",grpc_service=\"inventory.InventoryService\","
      "grpc_type=\"unary\"";
  CHECK_THAT(text, Catch::Contains("grpc_server_started_total{" + labels + "} 2"));
  CHECK_THAT(text, Catch::Contains("grpc_server_handled_total{grpc_code=\"OK\"," + labels + "} 1"));
  CHECK_THAT(text, Catch::Contains("grpc_server_handled_total{grpc_code=\"InvalidArgument\"," +
                                   labels + "} 1"));
  // Every code exists from the start, at zero.
  CHECK_THAT(text,
             Catch::Contains("grpc_server_handled_total{grpc_code=\"Canceled\"," + labels + "} 0"));
  CHECK_THAT(text, Catch::Contains("grpc_server_handling_seconds_count{" + labels + "} 2"));
  CHECK_THAT(
      text, Catch::Contains("grpc_server_handling_seconds_bucket{" + labels + ",le=\"0.0005\"} 1"));
}

TEST_CASE("client metrics are the grpc_client_ twins; streams are server_stream") {
  prometheus::Registry registry;
  GrpcPrometheus client(registry, GrpcPrometheus::Side::kClient);
  client
      .ObserveMethod("inventory.InventoryService/WatchProductAvailability", RpcType::kServerStream)
      ->OnStarted();
  const std::string text = Scrape(registry);
  CHECK_THAT(text, Catch::Contains("grpc_client_started_total{grpc_method="
                                   "\"WatchProductAvailability\",grpc_service=\"inventory."
                                   "InventoryService\",grpc_type=\"server_stream\"} 1"));
  CHECK_THAT(text, Catch::Contains("# TYPE grpc_client_handling_seconds histogram"));
}

TEST_CASE("message counters are go-grpc-prometheus's, on the server and the client") {
  prometheus::Registry registry;
  GrpcPrometheus server(registry, GrpcPrometheus::Side::kServer);
  MethodObserver* watch =
      server.ObserveMethod("grpc.health.v1.Health/Watch", RpcType::kServerStream);
  watch->OnStarted();
  watch->OnMessageReceived();
  for (int i = 0; i < 3; ++i) watch->OnMessageSent();
  const std::string labels =
      "{grpc_method=\"Watch\",grpc_service=\"grpc.health.v1.Health\",grpc_type=\"server_"
      "stream\"}";
  const std::string text = Scrape(registry);
  CHECK_THAT(text, Catch::Contains("grpc_server_msg_received_total" + labels + " 1"));
  CHECK_THAT(text, Catch::Contains("grpc_server_msg_sent_total" + labels + " 3"));

  prometheus::Registry client_registry;
  GrpcPrometheus client(client_registry, GrpcPrometheus::Side::kClient);
  MethodObserver* get =
      client.ObserveMethod("inventory.InventoryService/GetProductAvailability", RpcType::kUnary);
  get->OnMessageSent();
  get->OnMessageReceived();
  const std::string client_labels =
      "{grpc_method=\"GetProductAvailability\",grpc_service=\"inventory.InventoryService\","
      "grpc_type=\"unary\"}";
  const std::string client_text = Scrape(client_registry);
  CHECK_THAT(client_text, Catch::Contains("grpc_client_msg_sent_total" + client_labels + " 1"));
  CHECK_THAT(client_text, Catch::Contains("grpc_client_msg_received_total" + client_labels + " 1"));
  CHECK_THAT(client_text, !Catch::Contains("grpc_server_"));
}

TEST_CASE("Go code names cover every status code") {
  CHECK(std::string(GoCodeName(grpc::StatusCode::OK)) == "OK");
  CHECK(std::string(GoCodeName(grpc::StatusCode::CANCELLED)) == "Canceled");
  CHECK(std::string(GoCodeName(grpc::StatusCode::UNAUTHENTICATED)) == "Unauthenticated");
  CHECK(std::string(GoCodeName(static_cast<grpc::StatusCode>(99))) == "Unknown");
}

}  // namespace
}  // namespace metrics
