#include "metrics/grpc_prometheus.h"

#include <array>

namespace metrics {
namespace {

constexpr int kCodeCount = 17;  // OK .. UNAUTHENTICATED

const char* TypeName(RpcType type) {
  switch (type) {
    case RpcType::kUnary:
      return "unary";
    case RpcType::kServerStream:
      return "server_stream";
    case RpcType::kBidiStream:
      return "bidi_stream";
  }
  return "unknown";
}

std::string Prefix(GrpcPrometheus::Side side) {
  return side == GrpcPrometheus::Side::kServer ? "grpc_server_" : "grpc_client_";
}

}  // namespace

const char* GoCodeName(grpc::StatusCode code) {
  static constexpr std::array<const char*, kCodeCount> kNames = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < kCodeCount ? kNames[index] : "Unknown";
}

const std::vector<double>& HandlingSecondsBuckets() {
  static const std::vector<double> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                               1,      2.5,     5,      10};
  return kBuckets;
}

// One method's series, resolved once so a call only touches its counters.
class GrpcPrometheus::Method final : public MethodObserver {
 public:
  Method(GrpcPrometheus& parent, const prometheus::Labels& labels)
      : started_(parent.started_.Add(labels)),
        handling_seconds_(parent.handling_seconds_.Add(labels, HandlingSecondsBuckets())),
        msg_received_(parent.msg_received_.Add(labels)),
        msg_sent_(parent.msg_sent_.Add(labels)) {
    for (int code = 0; code < kCodeCount; ++code) {
      prometheus::Labels with_code = labels;
      with_code["grpc_code"] = GoCodeName(static_cast<grpc::StatusCode>(code));
      handled_[code] = &parent.handled_.Add(with_code);
    }
  }

  void OnStarted() override { started_.Increment(); }

  void OnHandled(grpc::StatusCode code, absl::Duration elapsed) override {
    const int index = static_cast<int>(code);
    handled_[index >= 0 && index < kCodeCount ? index : 2]->Increment();  // 2: UNKNOWN
    handling_seconds_.Observe(absl::ToDoubleSeconds(elapsed));
  }

  void OnMessageReceived() override { msg_received_.Increment(); }
  void OnMessageSent() override { msg_sent_.Increment(); }

 private:
  prometheus::Counter& started_;
  std::array<prometheus::Counter*, kCodeCount> handled_{};
  prometheus::Histogram& handling_seconds_;
  prometheus::Counter& msg_received_;
  prometheus::Counter& msg_sent_;
};

namespace {

// A counter family named as go-grpc-prometheus names it on `side`, with its
// help text for that side.
prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       GrpcPrometheus::Side side,
                                                       const std::string& name,
                                                       const char* server_help,
                                                       const char* client_help) {
  return prometheus::BuildCounter()
      .Name(Prefix(side) + name)
      .Help(side == GrpcPrometheus::Side::kServer ? server_help : client_help)
      .Register(registry);
}

}  // namespace

GrpcPrometheus::GrpcPrometheus(prometheus::Registry& registry, Side side)
    : started_(CounterFamily(registry, side, "started_total",
                             "Total number of RPCs started on the server.",
                             "Total number of RPCs started on the client.")),
      handled_(CounterFamily(
          registry, side, "handled_total",
          "Total number of RPCs completed on the server, regardless of success or failure.",
          "Total number of RPCs completed by the client, regardless of success or failure.")),
      handling_seconds_(prometheus::BuildHistogram()
                            .Name(Prefix(side) + "handling_seconds")
                            .Help(side == Side::kServer
                                      ? "Histogram of response latency (seconds) of gRPC that "
                                        "had been application-level handled by the server."
                                      : "Histogram of response latency (seconds) of the gRPC "
                                        "until it is finished by the application.")
                            .Register(registry)),
      msg_received_(CounterFamily(registry, side, "msg_received_total",
                                  "Total number of RPC stream messages received on the server.",
                                  "Total number of RPC stream messages received by the client.")),
      msg_sent_(CounterFamily(registry, side, "msg_sent_total",
                              "Total number of gRPC stream messages sent by the server.",
                              "Total number of gRPC stream messages sent by the client.")) {}

GrpcPrometheus::~GrpcPrometheus() = default;

MethodObserver* GrpcPrometheus::ObserveMethod(const std::string& full_method, RpcType type) {
  const std::size_t slash = full_method.rfind('/');
  prometheus::Labels labels = {
      {"grpc_type", TypeName(type)},
      {"grpc_service", slash == std::string::npos ? "" : full_method.substr(0, slash)},
      {"grpc_method", slash == std::string::npos ? full_method : full_method.substr(slash + 1)}};
  absl::MutexLock lock(&mu_);
  methods_.push_back(std::make_unique<Method>(*this, labels));
  return methods_.back().get();
}

}  // namespace metrics
