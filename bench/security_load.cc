// security_load: the load behind bench.py's security scenarios (tls-connect,
// authz-cost, retention), for what h2load cannot do: client certificates
// (mTLS), a new connection per call over any credentials, and ReserveStock
// then ReleaseReservation per new order id.
//
//   security_load --target=HOST:PORT --mode=MODE --count=N [options]
//
// Modes:
//   churn      N orders: ReserveStock(order "<prefix>-<i>", 1 of product
//              sku-<i % products>), then ReleaseReservation of the same
//              order. Every order id is new. --threads orders in flight,
//              through gRPC's callback API.
//   set_stock  N SetStock calls (product sku-<i % products>, quantity
//              1000 + i % 7), with "authorization: Bearer TOKEN" metadata
//              when --token_file is given.
//   connect    N new connections: each a channel of its own (its own
//              subchannel pool), one GetProductAvailability(product123),
//              then the channel is destroyed.
//
// Each of --threads threads (churn: lanes) takes the next index until N are
// done; churn and set_stock share --connections channels (distinct, so distinct
// connections). Every call must end OK: the first error stops the run with
// its code and message, and the exit status is 1. The run is bounded in time
// (--max_seconds): past it the run stops and exits 1, saying how far it got.
// A progress line goes to stderr every --progress_seconds; the last line on
// stdout is "done: N <unit> in S s, R/s".
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "inventory.grpc.pb.h"

ABSL_FLAG(std::string, target, "", "HOST:PORT of the inventory_server.");
ABSL_FLAG(std::string, mode, "churn", "churn, set_stock or connect (see the file's comment).");
ABSL_FLAG(int64_t, count, 0, "Orders (churn), calls (set_stock) or connections (connect).");
ABSL_FLAG(int, threads, 32,
          "Client threads, each with one call in flight (set_stock, connect); for churn, the "
          "orders in flight at once (gRPC's callback API).");
ABSL_FLAG(int, connections, 8, "Channels (connections) shared by the threads (churn, set_stock).");
ABSL_FLAG(int, products, 1000, "Products sku-00000000.. the orders or SetStock calls cycle over.");
ABSL_FLAG(std::string, order_prefix, "", "Order id prefix (default: churn-<time>, new each run).");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA that verifies the server: TLS. Empty: plaintext.");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate for mTLS (with --tls_key).");
ABSL_FLAG(std::string, tls_key, "", "PEM key of --tls_cert.");
ABSL_FLAG(std::string, tls_server_name, "localhost", "Name the server certificate is checked for.");
ABSL_FLAG(std::string, token_file, "", "File whose first line is the bearer token to send.");
ABSL_FLAG(int, max_seconds, 600, "Stop and fail when the run takes longer than this.");
ABSL_FLAG(double, progress_seconds, 5, "Seconds between progress lines on stderr; 0: none.");

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, bool first_line) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  if (first_line) {
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line;
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Config {
  std::string target;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string token;  // empty: no authorization metadata
};

std::shared_ptr<grpc::Channel> NewChannel(const Config& config, int64_t id) {
  grpc::ChannelArguments args;
  args.SetInt("security_load.channel", static_cast<int>(id));  // a distinct connection
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetSslTargetNameOverride(absl::GetFlag(FLAGS_tls_server_name));
  return grpc::CreateCustomChannel(config.target, config.credentials, args);
}

void Prepare(grpc::ClientContext& context, const Config& config) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  context.set_wait_for_ready(true);
  if (!config.token.empty()) context.AddMetadata("authorization", "Bearer " + config.token);
}

class Run {
 public:
  Run(Config config, int64_t count) : config_(std::move(config)), count_(count) {}

  // The first error wins; later ones only stop their threads.
  void Fail(const std::string& what) {
    absl::MutexLock lock(&mu_);
    if (error_.empty()) error_ = what;
    stop_.store(true);
  }
  bool stopped() const { return stop_.load(std::memory_order_relaxed); }
  void Stop() { stop_.store(true); }
  // The next index to do, or -1 when all are taken or the run stopped.
  int64_t Next() {
    if (stopped()) return -1;
    int64_t i = next_.fetch_add(1);
    return i < count_ ? i : -1;
  }
  void Done() { done_.fetch_add(1, std::memory_order_relaxed); }
  int64_t done() const { return done_.load(); }
  std::string error() {
    absl::MutexLock lock(&mu_);
    return error_;
  }
  const Config& config() const { return config_; }

 private:
  const Config config_;
  const int64_t count_;
  std::atomic<int64_t> next_{0};
  std::atomic<int64_t> done_{0};
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::string error_ ABSL_GUARDED_BY(mu_);
};

std::string StatusText(const char* what, const std::string& id, const grpc::Status& status) {
  return absl::StrCat(what, " ", id, ": code ", status.error_code(), " (", status.error_message(),
                      ")");
}

std::string Sku(int64_t i) {
  return absl::StrFormat("sku-%08d", i % absl::GetFlag(FLAGS_products));
}

// churn: --inflight orders in flight at once through gRPC's callback API
// (a blocking client on one core spends about 120 us of CPU per call, too
// slow for a million orders). Each lane reserves an order, releases it, and
// takes the next index.
class AsyncChurn {
 public:
  AsyncChurn(Run& run, const std::vector<std::unique_ptr<inventory::InventoryService::Stub>>& stubs,
             std::string prefix)
      : run_(run), stubs_(stubs), prefix_(std::move(prefix)) {}

  void Start(int inflight) {
    {
      absl::MutexLock lock(&mu_);
      active_ = inflight;
    }
    for (int lane = 0; lane < inflight; ++lane) Issue(lane);
  }
  // Until every lane found no more work (all done, or the run stopped).
  void Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* active) { return *active == 0; }, &active_));
  }

 private:
  struct Order {
    inventory::InventoryService::Stub* stub;
    std::string id;
    grpc::ClientContext reserve_context;
    inventory::ReserveStockRequest reserve;
    inventory::ReserveStockResponse reserved;
    grpc::ClientContext release_context;
    inventory::ReleaseReservationRequest release;
    inventory::ReleaseReservationResponse released;
  };

  void LaneDone() {
    absl::MutexLock lock(&mu_);
    --active_;
  }

  void Issue(int lane) {
    const int64_t i = run_.Next();
    if (i < 0) return LaneDone();
    auto* order = new Order;
    order->stub = stubs_[lane % stubs_.size()].get();
    order->id = absl::StrCat(prefix_, "-", i);
    order->reserve.set_order_id(order->id);
    inventory::StockLine* line = order->reserve.add_lines();
    line->set_product_id(Sku(i));
    line->set_quantity(1);
    order->release.set_order_id(order->id);
    Prepare(order->reserve_context, run_.config());
    Prepare(order->release_context, run_.config());
    order->stub->async()->ReserveStock(
        &order->reserve_context, &order->reserve, &order->reserved,
        [this, order, lane](grpc::Status status) {
          if (!status.ok()) {
            run_.Fail(StatusText("ReserveStock", order->id, status));
            delete order;
            return LaneDone();
          }
          order->stub->async()->ReleaseReservation(
              &order->release_context, &order->release, &order->released,
              [this, order, lane](grpc::Status status) {
                if (!status.ok()) {
                  run_.Fail(StatusText("ReleaseReservation", order->id, status));
                  delete order;
                  return LaneDone();
                }
                delete order;
                run_.Done();
                Issue(lane);
              });
        });
  }

  Run& run_;
  const std::vector<std::unique_ptr<inventory::InventoryService::Stub>>& stubs_;
  const std::string prefix_;
  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
};

void SetStockThread(Run& run, inventory::InventoryService::Stub& stub) {
  for (int64_t i; (i = run.Next()) >= 0;) {
    inventory::SetStockRequest request;
    request.set_product_id(Sku(i));
    request.set_quantity(static_cast<int32_t>(1000 + i % 7));
    inventory::SetStockResponse response;
    grpc::ClientContext context;
    Prepare(context, run.config());
    grpc::Status status = stub.SetStock(&context, request, &response);
    if (!status.ok()) return run.Fail(StatusText("SetStock", request.product_id(), status));
    if (response.availability().quantity() != request.quantity()) {
      return run.Fail(absl::StrCat("SetStock ", request.product_id(), ": answered quantity ",
                                   response.availability().quantity(), ", set ",
                                   request.quantity()));
    }
    run.Done();
  }
}

void ConnectThread(Run& run) {
  for (int64_t i; (i = run.Next()) >= 0;) {
    std::shared_ptr<grpc::Channel> channel = NewChannel(run.config(), 1'000'000 + i);
    std::unique_ptr<inventory::InventoryService::Stub> stub =
        inventory::InventoryService::NewStub(channel);
    inventory::GetProductAvailabilityRequest request;
    request.set_product_id("product123");
    inventory::GetProductAvailabilityResponse response;
    grpc::ClientContext context;
    Prepare(context, run.config());
    grpc::Status status = stub->GetProductAvailability(&context, request, &response);
    if (!status.ok())
      return run.Fail(StatusText("GetProductAvailability on connection", absl::StrCat(i), status));
    if (response.quantity() != 10) {
      return run.Fail(absl::StrCat("GetProductAvailability(product123) answered quantity ",
                                   response.quantity(), ", expected 10"));
    }
    run.Done();
  }
}

absl::StatusOr<Config> ConfigFromFlags() {
  Config config;
  config.target = absl::GetFlag(FLAGS_target);
  if (config.target.empty()) return absl::InvalidArgumentError("--target is required");
  const std::string ca = absl::GetFlag(FLAGS_tls_ca);
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (ca.empty()) {
    if (!cert.empty()) return absl::InvalidArgumentError("--tls_cert needs --tls_ca");
    config.credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    absl::StatusOr<std::string> text = ReadFile(ca, false);
    if (!text.ok()) return text.status();
    ssl.pem_root_certs = *text;
    if (!cert.empty()) {
      if (!(text = ReadFile(cert, false)).ok()) return text.status();
      ssl.pem_cert_chain = *text;
      if (!(text = ReadFile(key, false)).ok()) return text.status();
      ssl.pem_private_key = *text;
    }
    config.credentials = grpc::SslCredentials(ssl);
  }
  if (const std::string file = absl::GetFlag(FLAGS_token_file); !file.empty()) {
    absl::StatusOr<std::string> token = ReadFile(file, true);
    if (!token.ok()) return token.status();
    if (token->empty()) return absl::InvalidArgumentError(absl::StrCat(file, ": empty token"));
    config.token = *token;
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Load for bench.py's security scenarios; see bench/security_load.cc.");
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<Config> config = ConfigFromFlags();
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const int64_t count = absl::GetFlag(FLAGS_count);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int connections = absl::GetFlag(FLAGS_connections);
  if (config.ok() && (mode != "churn" && mode != "set_stock" && mode != "connect")) {
    config =
        absl::InvalidArgumentError(absl::StrCat("--mode=", mode, ": churn, set_stock or connect"));
  }
  if (config.ok() &&
      (count <= 0 || threads <= 0 || connections <= 0 || absl::GetFlag(FLAGS_products) <= 0 ||
       absl::GetFlag(FLAGS_max_seconds) <= 0)) {
    config = absl::InvalidArgumentError(
        "--count, --threads, --connections, --products and --max_seconds must be positive");
  }
  if (!config.ok()) {
    std::fprintf(stderr, "security_load: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  std::string prefix = absl::GetFlag(FLAGS_order_prefix);
  if (prefix.empty()) prefix = absl::StrCat("churn-", absl::ToUnixMicros(absl::Now()));

  Run run(*config, count);
  std::vector<std::unique_ptr<inventory::InventoryService::Stub>> stubs;
  if (mode != "connect") {
    for (int c = 0; c < connections; ++c) {
      stubs.push_back(inventory::InventoryService::NewStub(NewChannel(*config, c)));
    }
  }
  const absl::Time start = absl::Now();
  std::vector<std::thread> workers;
  AsyncChurn churn(run, stubs, prefix);
  if (mode == "churn") {
    workers.emplace_back([&] {
      churn.Start(threads);
      churn.Wait();
    });
  } else {
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        if (mode == "set_stock") SetStockThread(run, *stubs[t % stubs.size()]);
        if (mode == "connect") ConnectThread(run);
      });
    }
  }
  const absl::Duration limit = absl::Seconds(absl::GetFlag(FLAGS_max_seconds));
  const double progress = absl::GetFlag(FLAGS_progress_seconds);
  absl::Time next_progress = start + absl::Seconds(progress);
  bool timed_out = false;
  while (run.done() < count && !run.stopped()) {
    absl::SleepFor(absl::Milliseconds(20));
    const absl::Time now = absl::Now();
    if (now - start > limit) {
      timed_out = true;
      run.Stop();
      break;
    }
    if (progress > 0 && now >= next_progress) {
      std::fprintf(stderr, "security_load: %lld of %lld after %.1f s\n",
                   static_cast<long long>(run.done()), static_cast<long long>(count),
                   absl::ToDoubleSeconds(now - start));
      next_progress += absl::Seconds(progress);
    }
  }
  for (std::thread& worker : workers) worker.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const char* unit = mode == "churn" ? "orders" : mode == "set_stock" ? "calls" : "connections";
  if (const std::string error = run.error(); !error.empty()) {
    std::fprintf(stderr, "security_load: FAILED after %lld %s: %s\n",
                 static_cast<long long>(run.done()), unit, error.c_str());
    return 1;
  }
  if (timed_out) {
    std::fprintf(stderr, "security_load: FAILED: %lld of %lld %s done in --max_seconds=%d\n",
                 static_cast<long long>(run.done()), static_cast<long long>(count), unit,
                 absl::GetFlag(FLAGS_max_seconds));
    return 1;
  }
  std::printf("done: %lld %s in %.3f s, %.1f/s\n", static_cast<long long>(run.done()), unit,
              seconds, static_cast<double>(run.done()) / seconds);
  return 0;
}
