// inventory_bench: RPC latency and throughput of the InventoryService, on
// Google Benchmark. Each benchmark starts the server in this process on an
// ephemeral loopback port and drives it with a closed loop of N calls in
// flight over C channels (each its own HTTP/2 connection). It reports
//   items_per_second  completed calls (or look-ups, for batches) per second
//   p50_us ... p999_us  latency percentiles from a histogram of every call
//   errors            calls that did not end OK (never counted as items)
// Use --benchmark_out=FILE --benchmark_out_format=json for compare.py.
//
// The look-up suites drive the server with gRPC's callback API; the durable
// ReserveStock suite uses the load mode's client (load_client.h).
//
// With --target=host:port it runs the load mode instead (load_mode.h): the
// same kind of report for a server running elsewhere, open or closed loop.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/latency_histogram.h"
#include "bench/load_client.h"
#include "bench/load_mode.h"
#include "client/batching_inventory_client.h"
#include "domain/inventory/catalog.h"
#include "domain/product/product_catalog.h"
#include "server/host/command_line.h"
#include "server/host/server_host.h"
#include "server/host/tls_credentials.h"
#include "server/inventory/inventory_service.h"
#include "server/product/inventory_reserver.h"
#include "server/product/product_service.h"
#include "storage/durable_journal.h"
#include "test/callback_queue_pin.h"

namespace {

using inventory::BatchGetProductAvailabilityRequest;
using inventory::BatchGetProductAvailabilityResponse;
using inventory::GetProductAvailabilityRequest;
using inventory::GetProductAvailabilityResponse;
using inventory::InventoryService;

constexpr int kCatalogSize = 100'000;

// The InventoryService as inventory_server runs it, on 127.0.0.1:0.
class InProcessInventory {
 public:
  explicit InProcessInventory(server::host::ServerHostOptions options,
                              const std::vector<domain::inventory::CatalogEntry>& catalog =
                                  domain::inventory::SyntheticCatalog(kCatalogSize),
                              storage::DurableJournal* journal = nullptr)
      : store_(domain::inventory::InventoryStore::kDefaultShards, journal),
        service_(store_, ServiceOptions(journal)),
        host_(std::move(options)) {
    (void)store_.Load(catalog);
    service_.Register(host_.engine());
    absl::StatusOr<int> port =
        host_.Start("127.0.0.1:0", {server::inventory::InventoryGrpcService::kServiceName});
    port_ = port.ok() ? *port : 0;
  }
  int port() const { return port_; }

 private:
  static server::inventory::InventoryServiceOptions ServiceOptions(
      storage::DurableJournal* journal) {
    server::inventory::InventoryServiceOptions options;
    options.journal = journal;
    return options;
  }

  domain::inventory::InventoryStore store_;
  server::inventory::InventoryGrpcService service_;
  server::host::ServerHost host_;
  int port_ = 0;
};

std::vector<std::unique_ptr<InventoryService::Stub>> Stubs(int port, int channels) {
  testing_util::PinGrpcCallbackQueue();  // every benchmark run makes and drops channels
  std::vector<std::unique_ptr<InventoryService::Stub>> stubs;
  for (int c = 0; c < channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("inventory_bench.connection", c);  // distinct args: own connection
    stubs.push_back(InventoryService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args)));
  }
  return stubs;
}

struct LoopResult {
  bench::LatencyHistogram latency_ns;
  std::uint64_t errors = 0;
};

// Keeps `inflight` calls outstanding: each completion is recorded and, while
// running, immediately replaced by a new call on the same slot.
template <class Request, class Response>
class ClosedLoop {
 public:
  using StartFn = std::function<void(InventoryService::Stub&, grpc::ClientContext*, const Request*,
                                     Response*, std::function<void(grpc::Status)>)>;

  ClosedLoop(std::vector<std::unique_ptr<InventoryService::Stub>> stubs, int inflight,
             std::function<void(int slot, Request&)> fill_request, StartFn start)
      : stubs_(std::move(stubs)), slots_(inflight), start_(std::move(start)) {
    for (int i = 0; i < inflight; ++i) fill_request(i, slots_[i].request);
  }

  void Start() {
    {
      absl::MutexLock lock(&mu_);
      in_flight_ = slots_.size();  // a slot stays in flight until it stops
    }
    for (size_t i = 0; i < slots_.size(); ++i) Issue(i);
  }

  // Blocks until one more call has completed.
  void AwaitCompletion() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](ClosedLoop* self)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return self->completed_ > self->consumed_; },
        this));
    ++consumed_;
  }

  // Stops issuing and waits until every call in flight has come back.
  void StopAndDrain() {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    mu_.Await(absl::Condition(
        +[](ClosedLoop* self) ABSL_NO_THREAD_SAFETY_ANALYSIS { return self->in_flight_ == 0; },
        this));
  }

  LoopResult Result() {
    absl::MutexLock lock(&mu_);
    return {histogram_, errors_};
  }

 private:
  struct Slot {
    std::optional<grpc::ClientContext> context;  // a context serves one call only
    Request request;
    Response response;
    absl::Time started;
  };

  void Issue(size_t index) {
    Slot& slot = slots_[index];
    slot.context.emplace();
    slot.context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    slot.started = absl::Now();
    start_(*stubs_[index % stubs_.size()], &*slot.context, &slot.request, &slot.response,
           [this, index](grpc::Status status) { OnDone(index, status); });
  }

  void OnDone(size_t index, const grpc::Status& status) {
    const absl::Duration latency = absl::Now() - slots_[index].started;
    bool reissue;
    {
      absl::MutexLock lock(&mu_);
      histogram_.Record(static_cast<std::uint64_t>(absl::ToInt64Nanoseconds(latency)));
      if (!status.ok()) ++errors_;
      ++completed_;
      // Decided together with the in-flight count, under the lock: once
      // StopAndDrain sees zero, no callback can still be starting a call.
      reissue = !stopping_;
      if (!reissue) --in_flight_;
    }
    if (reissue) Issue(index);
  }

  std::vector<std::unique_ptr<InventoryService::Stub>> stubs_;
  std::vector<Slot> slots_;
  StartFn start_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bench::LatencyHistogram histogram_ ABSL_GUARDED_BY(mu_);
  std::uint64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t completed_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t consumed_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

// Publishes a closed loop's result as the benchmark's counters.
void Report(benchmark::State& state, const LoopResult& result, std::int64_t items_per_call) {
  // Items are the completions waited for inside the timed loop (calls
  // drained after it are in the percentiles, not in the rate); failed calls
  // are never items.
  const std::int64_t calls = static_cast<std::int64_t>(result.latency_ns.count());
  const std::int64_t timed = static_cast<std::int64_t>(state.iterations());
  const std::int64_t failed =
      std::min<std::int64_t>(static_cast<std::int64_t>(result.errors), timed);
  state.SetItemsProcessed((timed - failed) * items_per_call);
  const auto us = [&](double q) { return result.latency_ns.Percentile(q) / 1000.0; };
  state.counters["p50_us"] = us(0.50);
  state.counters["p90_us"] = us(0.90);
  state.counters["p99_us"] = us(0.99);
  state.counters["p999_us"] = us(0.999);
  state.counters["errors"] = static_cast<double>(result.errors);
  state.counters["calls"] = static_cast<double>(calls);
}

server::host::ServerHostOptions ServerOptions(int completion_queues, int requests_per_method,
                                              bool reflection) {
  server::host::ServerHostOptions options;
  options.engine.completion_queues = completion_queues;
  if (requests_per_method > 0) options.engine.requests_per_method = requests_per_method;
  options.reflection = reflection;
  return options;
}

template <class Request, class Response>
void RunClosedLoop(benchmark::State& state, InProcessInventory& server, int inflight, int channels,
                   std::function<void(int, Request&)> fill,
                   typename ClosedLoop<Request, Response>::StartFn start,
                   std::int64_t items_per_call) {
  if (server.port() == 0) {
    state.SkipWithError("the in-process server did not start");
    return;
  }
  ClosedLoop<Request, Response> loop(Stubs(server.port(), channels), inflight, std::move(fill),
                                     std::move(start));
  loop.Start();
  for (auto _ : state) loop.AwaitCompletion();
  loop.StopAndDrain();
  Report(state, loop.Result(), items_per_call);
}

void FillProductId(int slot, GetProductAvailabilityRequest& request) {
  request.set_product_id(absl::StrFormat("sku-%08d", (slot * 7919) % kCatalogSize));
}

void StartGet(InventoryService::Stub& stub, grpc::ClientContext* context,
              const GetProductAvailabilityRequest* request,
              GetProductAvailabilityResponse* response, std::function<void(grpc::Status)> done) {
  stub.async()->GetProductAvailability(context, request, response, std::move(done));
}

void StartBatch(InventoryService::Stub& stub, grpc::ClientContext* context,
                const BatchGetProductAvailabilityRequest* request,
                BatchGetProductAvailabilityResponse* response,
                std::function<void(grpc::Status)> done) {
  stub.async()->BatchGetProductAvailability(context, request, response, std::move(done));
}

// Unary GetProductAvailability. Args: calls in flight, channels.
void BM_GetProductAvailability(benchmark::State& state) {
  InProcessInventory server(ServerOptions(0, 0, false));
  RunClosedLoop<GetProductAvailabilityRequest, GetProductAvailabilityResponse>(
      state, server, static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
      FillProductId, StartGet, 1);
}

// BatchGetProductAvailability; items are look-ups. Args: ids per batch.
void BM_BatchGetProductAvailability(benchmark::State& state) {
  InProcessInventory server(ServerOptions(0, 0, false));
  const int batch = static_cast<int>(state.range(0));
  RunClosedLoop<BatchGetProductAvailabilityRequest, BatchGetProductAvailabilityResponse>(
      state, server, /*inflight=*/16, /*channels=*/2,
      [batch](int slot, BatchGetProductAvailabilityRequest& request) {
        for (int i = 0; i < batch; ++i) {
          request.add_product_ids(
              absl::StrFormat("sku-%08d", (slot * 7919 + i * 104729) % kCatalogSize));
        }
      },
      StartBatch, batch);
}

// The server knobs that matter, at 256 calls in flight over 4 channels.
// Args: completion queues (0 = one per CPU), requests posted per method,
// reflection on (1) or off (0).
void BM_ServerKnobs(benchmark::State& state) {
  InProcessInventory server(ServerOptions(static_cast<int>(state.range(0)),
                                          static_cast<int>(state.range(1)), state.range(2) != 0));
  RunClosedLoop<GetProductAvailabilityRequest, GetProductAvailabilityResponse>(
      state, server, 256, 4, FillProductId, StartGet, 1);
}
// Publishes a load run's result as the benchmark's counters.
void ReportLoad(benchmark::State& state, const absl::StatusOr<bench::LoadResult>& result) {
  if (!result.ok()) {
    state.SkipWithError(std::string(result.status().message()).c_str());
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(result->succeeded));
  const auto us = [&](double q) { return result->latency_ns.Percentile(q) / 1000.0; };
  state.counters["p50_us"] = us(0.50);
  state.counters["p90_us"] = us(0.90);
  state.counters["p99_us"] = us(0.99);
  state.counters["p999_us"] = us(0.999);
  state.counters["errors"] = static_cast<double>(result->failed);
  state.counters["calls"] = static_cast<double>(result->completed());
}

// The benchmark's single iteration: one load run with `options` over
// `catalog_size` synthetic ids, timed manually. `setup` is the state of the
// in-process servers; if it is an error, nothing runs and it is returned.
absl::StatusOr<bench::LoadResult> RunLoadIteration(benchmark::State& state,
                                                   const bench::LoadOptions& options,
                                                   int catalog_size, absl::Status setup) {
  auto requests = bench::PrepareRequests(options, bench::SyntheticIds("sku-", 8, catalog_size));
  absl::StatusOr<bench::LoadResult> result = absl::UnknownError("the benchmark did not run");
  for (auto _ : state) {
    if (!setup.ok() || !requests.ok()) break;
    result = bench::RunLoad(options, **requests);
    if (result.ok()) state.SetIterationTime(absl::ToDoubleSeconds(result->elapsed));
  }
  if (!setup.ok()) return setup;
  if (!requests.ok()) return requests.status();
  return result;
}

// Durable ReserveStock: the InventoryService with its RocksDB journal in a
// temporary directory, 256 orders in flight (one line, quantity 1, a fresh
// order id each) from the load mode's client over 4 connections. Items are
// reservations acknowledged, which happens only once they are on disk (one
// group commit per batch of waiting orders). Args: fsync per group commit.
void BM_ReserveStockDurable(benchmark::State& state) {
  const bool sync = state.range(0) != 0;
  char dir_template[] = "/tmp/inventory_bench_journal.XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    state.SkipWithError("cannot create a temporary directory");
    return;
  }
  const std::string directory = dir_template;
  constexpr int kProducts = 10'000;
  std::vector<domain::inventory::CatalogEntry> catalog;
  for (const domain::inventory::CatalogEntry& entry :
       domain::inventory::SyntheticCatalog(kProducts)) {
    catalog.push_back({entry.product_id, 1'000'000'000});  // never runs out
  }
  absl::StatusOr<bench::LoadResult> result;
  {
    auto journal = storage::DurableJournal::Open(directory + "/db", {sync});
    if (!journal.ok() || !(*journal)->Initialize(catalog).ok()) {
      state.SkipWithError("cannot open the journal");
      std::filesystem::remove_all(directory);
      return;
    }
    InProcessInventory server(ServerOptions(0, 0, false), catalog, journal->get());
    bench::LoadOptions options;
    options.target = absl::StrCat("127.0.0.1:", server.port());
    options.method = bench::LoadMethod::kReserve;
    options.order_prefix = absl::StrCat("durable-", sync);
    options.connections = 4;
    options.client_cqs = 1;
    options.inflight = 256;
    options.warmup = absl::Milliseconds(500);
    options.duration = absl::Seconds(2);
    result = RunLoadIteration(state, options, kProducts,
                              server.port() == 0
                                  ? absl::UnavailableError("the in-process server did not start")
                                  : absl::OkStatus());
    (*journal)->Close();
  }
  std::filesystem::remove_all(directory);
  ReportLoad(state, result);
}

// ProductService GetProduct, batching on or off: the InventoryService and the
// ProductService (its batching client, its ReserveStock caller) in this
// process, 256 calls in flight from the load mode's client over 4
// connections. Args: batching (1) or one unary look-up per call (0).
void BM_ProductGetProduct(benchmark::State& state) {
  const bool batching = state.range(0) != 0;
  InProcessInventory inventory(ServerOptions(0, 0, false));
  auto catalog = domain::product::ProductCatalog::Create(
      domain::product::SyntheticProductCatalog(kCatalogSize));
  client::BatchingInventoryClientOptions lookup_options;
  lookup_options.target = absl::StrCat("127.0.0.1:", inventory.port());
  lookup_options.batching = batching;
  auto lookups = client::BatchingInventoryClient::Create(lookup_options);
  if (!catalog.ok() || !lookups.ok() || inventory.port() == 0) {
    state.SkipWithError("cannot set up the ProductService");
    return;
  }
  server::product::InventoryReserver reserver({.target = lookup_options.target});
  server::product::ProductGrpcService service(*catalog, **lookups, reserver);
  absl::StatusOr<bench::LoadResult> result;
  {
    server::host::ServerHost host(ServerOptions(0, 0, false));
    service.Register(host.engine());
    absl::StatusOr<int> port =
        host.Start("127.0.0.1:0", {server::product::ProductGrpcService::kServiceName});
    bench::LoadOptions options;
    options.target = absl::StrCat("127.0.0.1:", port.ok() ? *port : 0);
    options.method = bench::LoadMethod::kProductGet;
    options.connections = 4;
    options.client_cqs = 1;
    options.inflight = 256;
    options.warmup = absl::Milliseconds(500);
    options.duration = absl::Seconds(2);
    result = RunLoadIteration(state, options, kCatalogSize, port.status());
    host.Shutdown();
  }
  (*lookups)->Shutdown();
  ReportLoad(state, result);
}

void RegisterInProcessSuites() {
  benchmark::RegisterBenchmark("BM_GetProductAvailability", BM_GetProductAvailability)
      ->ArgNames({"inflight", "channels"})
      ->ArgsProduct({{1, 16, 64, 256, 1024}, {1, 4}})
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_BatchGetProductAvailability", BM_BatchGetProductAvailability)
      ->ArgNames({"batch"})
      ->Arg(1)
      ->Arg(10)
      ->Arg(100)
      ->Arg(1000)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_ServerKnobs", BM_ServerKnobs)
      ->ArgNames({"cqs", "depth", "reflection"})
      ->ArgsProduct({{1, 2}, {1, 64, 512}, {0, 1}})
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_ReserveStockDurable", BM_ReserveStockDurable)
      ->ArgNames({"sync"})
      ->Arg(0)
      ->Arg(1)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_ProductGetProduct", BM_ProductGetProduct)
      ->ArgNames({"batching"})
      ->Arg(0)
      ->Arg(1)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  server::host::KeepOpenSslThroughExit();  // before any thread: see its comment
  // Each benchmark starts and drains a server; its info lines would bury
  // the results.
  spdlog::set_level(spdlog::level::warn);
  // Debian's abseil checks lock order on every absl::Mutex operation,
  // gRPC's own included: a cost no client should pay (docs/performance.md).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Benchmark's flags first (--benchmark_out=... and its --help); abseil then
  // parses the rest, and rejects what neither knows.
  benchmark::Initialize(&argc, argv, bench::PrintHelp);
  bench::CollectRepeatedFlags(argc, argv);
  // The rest as every binary of the project does (--version, both
  // spellings of a flag, no positional arguments).
  server::host::ParseCommandLine(
      argc, argv,
      {.program = "inventory_bench",
       .usage = "In-process benchmark suites, or with --target=host:port a load run against a "
                "running server.\nUsage: inventory_bench [--benchmark_...] [--flag=value]... "
                "(--help also lists Google Benchmark's own flags)"});
  if (bench::LoadModeRequested()) {
    if (absl::Status registered = bench::RegisterLoadBenchmarks(); !registered.ok()) {
      std::fprintf(stderr, "inventory_bench: %s\n", std::string(registered.message()).c_str());
      return 1;
    }
  } else {
    RegisterInProcessSuites();
  }
  if (bench::LoadModeRequested() && bench::DisplayReporter() != nullptr) {
    benchmark::RunSpecifiedBenchmarks(bench::DisplayReporter());
  } else {
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  return bench::LoadModeRequested() ? bench::LoadModeExitStatus() : 0;
}
