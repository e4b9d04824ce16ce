#include "bench/load_mode.h"

#include <benchmark/benchmark.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "bench/load_client.h"
#include "bench/load_ids.h"
#include "bench/method_resolver.h"
#include "bench/request_data.h"
#include "server/host/client_tls_flags.h"
#include "server/host/command_line.h"
#include "server/host/tls_credentials.h"

ABSL_FLAG(std::string, target, "",
          "Load mode: host:port of a running server to load. Without it, inventory_bench runs its "
          "in-process suites.");
ABSL_FLAG(std::string, method, "get",
          "get (InventoryService/GetProductAvailability), batch (BatchGetProductAvailability), "
          "reserve (ReserveStock), product_get (ProductService/GetProduct), place_order "
          "(ProductService/PlaceOrder).");
ABSL_FLAG(std::string, call, "",
          "Any unary method instead of --method: package.Service/Method (or ghz's "
          "package.Service.Method), resolved from --proto, --protoset or, without either, the "
          "target's server reflection (grpc.reflection.v1alpha).");
ABSL_FLAG(std::vector<std::string>, proto, {},
          "--call: .proto file(s) that define the method, parsed at run time (a comma list; the "
          "flag may also be repeated). Imports are searched in --import_path, then in the "
          "file's own directory.");
ABSL_FLAG(std::vector<std::string>, import_path, {},
          "--call with --proto: directories to search for the proto files and their imports "
          "(a comma list; the flag may also be repeated).");
ABSL_FLAG(std::string, protoset, "",
          "--call: a serialized FileDescriptorSet that defines the method (protoc "
          "--descriptor_set_out=FILE --include_imports).");
ABSL_FLAG(std::string, data, "",
          "--call: the request as JSON (protobuf's JSON mapping), or @FILE with one JSON request "
          "per line, sent in turn. Empty: the empty request. Serialized once, before the run.");
ABSL_FLAG(int, data_ring, 1000,
          "--call with template values in --data ({{.RequestNumber}}, {{randomInt MIN MAX}}, "
          "{{randomPick \"a\" \"b\"}}, ...): how many distinct requests to render and "
          "serialize before the run (1..1000000); calls send them in turn, so the values repeat "
          "with this period. Random values are drawn with --seed.");
ABSL_FLAG(std::string, metadata, "",
          "Metadata sent with every call: a JSON object of strings, or key:value,key:value.");
ABSL_FLAG(int, batch_size, 10, "batch: product ids per call.");
ABSL_FLAG(int, lines, 1,
          "reserve, place_order: lines per order (distinct products, quantity 1 each).");
ABSL_FLAG(std::string, order_prefix, "",
          "reserve, place_order: order ids are PREFIX-<thread>-<n>, unique per call. Empty: "
          "bench-<pid>-<unix time>, unique per run.");
ABSL_FLAG(std::string, ids, "uniform",
          "Which ids to ask for: uniform, or zipf (the first id most often; see --zipf_s).");
ABSL_FLAG(double, zipf_s, 0.99, "Exponent of the Zipf distribution (> 0).");
ABSL_FLAG(int, catalog_size, 100000,
          "Synthetic ids: <id_prefix><index, zero-padded to id_width digits> for index 0..N-1, "
          "as inventory_server --synthetic_products=N names them.");
ABSL_FLAG(std::string, id_prefix, "sku-", "Prefix of the synthetic ids.");
ABSL_FLAG(int, id_width, 8, "Digits of the synthetic ids (zero-padded).");
ABSL_FLAG(std::string, ids_file, "",
          "Ask for the ids in this file instead (one per line, sent as is, valid or not; for "
          "zipf the first line is the most popular).");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the id choices (the same seed asks for the same ids).");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Measured window of each run.");
ABSL_FLAG(uint64_t, total, 0,
          "If > 0: end each run's measured window once this many calls have been started and "
          "have completed (ghz's -n), or at --duration, whichever comes first.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "Load before the measured window, same shape, not recorded.");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(5),
          "Deadline of each call (DEADLINE_EXCEEDED counts as an error).");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(10),
          "How long to wait for every connection to be ready before giving up (exit status 1).");
ABSL_FLAG(int, connections, 8, "Channels, each its own HTTP/2 connection.");
ABSL_FLAG(std::vector<std::string>, inflight, {"64"},
          "Closed loop (without --rate): calls in flight in total, over all connections. A list "
          "(16,64,256) runs one benchmark per value.");
ABSL_FLAG(std::vector<std::string>, rate, {},
          "Open loop: calls started per second, on a fixed schedule; each call is timed from its "
          "scheduled start (coordinated omission corrected). A list (1000,5000,20000) runs one "
          "benchmark per rate; START:END:STEP (1000:5000:1000) is the list START, START+STEP, "
          "... up to END (down to it if START > END), each step --rate_step_duration long.");
ABSL_FLAG(absl::Duration, rate_step_duration, absl::ZeroDuration(),
          "With a stepped --rate=START:END:STEP: how long each step's measured window is "
          "(0: --duration). Only the first step has a --warmup.");
ABSL_FLAG(int, max_outstanding, 0,
          "Open loop: most calls in flight; calls due beyond it are sent late (and timed from "
          "their schedule) or, at the end of the window, counted as unsent. 0: 512 per client "
          "completion queue (with Debian's gRPC every completion scans the queue's outstanding "
          "calls: at 2000 per queue the client itself collapsed to half the rate).");
ABSL_FLAG(int, client_cqs, 0,
          "Client completion queues, one polling thread each. 0: one per CPU in this process's "
          "affinity mask (taskset -c 1 gives 1).");
ABSL_FLAG(std::string, client_api, "core",
          "Which gRPC API makes the unary calls: core (gRPC's C API, one batch per call on a "
          "core completion queue: fewer instructions per call) or cpp (the C++ generic stub, "
          "a ClientContext per call). Server-streaming calls always use cpp.");
ABSL_FLAG(bool, coalesce_writes, true,
          "Each client queue's thread sends the calls it starts one after another in one write "
          "per connection (needs the project's build of gRPC). false: one write per call.");
ABSL_FLAG(bool, verify, false,
          "Parse every OK response and check it answers the request (costs client CPU); a wrong "
          "one counts as a VERIFY_FAILED error.");
ABSL_FLAG(double, max_error_ratio, 0,
          "Exit status 0 only if at most this share of the calls of every run failed (0.01 = "
          "1%). Exit status 1 otherwise.");
ABSL_FLAG(bool, progress, true, "A progress line per second on stderr.");
ABSL_FLAG(std::string, format, "text",
          "Each run's summary: text (on stderr, with Google Benchmark's table on stdout), json "
          "(one JSON object per run on stdout, one line each), csv (a header, then one row per "
          "run, on stdout), html (one self-contained page with charts on stdout, the text on "
          "stderr) or benchmark_json (Google Benchmark's JSON, as compare.py reads it, on "
          "stdout, the text on stderr); except with text, stdout holds nothing else.");
ABSL_FLAG(std::vector<std::string>, channel_args, {},
          "Expert: extra client channel arguments name=value,... (integer if it parses as one).");

namespace bench {
namespace {

// The value that `text`, given to --`flag`, names among `choices`, or
// INVALID_ARGUMENT listing them ("--ids must be uniform or zipf, got 'x'").
template <class T>
absl::StatusOr<T> FlagChoice(absl::string_view flag, absl::string_view text,
                             std::initializer_list<std::pair<absl::string_view, T>> choices) {
  std::vector<absl::string_view> names;
  for (const auto& [name, value] : choices) {
    if (name == text) return value;
    names.push_back(name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " must be ", absl::StrJoin(names, " or "), ", got '", text, "'"));
}

struct Registry {
  bool any_run = false;
  std::vector<std::string> failures;  // one line per failed run
  // --format=html: every run, for the page written at the end.
  std::vector<std::pair<LoadOptions, LoadResult>> reported;
};

Registry& Runs() {
  static Registry* registry = new Registry;
  return *registry;
}

// Every value of --proto and --import_path on the command line (abseil
// keeps only the last occurrence of a flag).
std::vector<std::string>& Repeated(absl::string_view flag) {
  static auto* proto = new std::vector<std::string>;
  static auto* import_path = new std::vector<std::string>;
  return flag == "proto" ? *proto : *import_path;
}

std::vector<std::string> RepeatedOrFlag(absl::string_view flag,
                                        const std::vector<std::string>& parsed) {
  const std::vector<std::string>& seen = Repeated(flag);
  return seen.empty() ? parsed : seen;
}

// What --call names: its path, name and serialized requests. Everything is
// checked here, before any load: the method exists and is unary, every
// request parses.
absl::StatusOr<std::shared_ptr<const LoadRequests>> PrepareCall(LoadOptions& options,
                                                                std::string* source) {
  absl::StatusOr<CallName> call = ParseCallName(absl::GetFlag(FLAGS_call));
  if (!call.ok()) return call.status();
  const std::vector<std::string> protos = RepeatedOrFlag("proto", absl::GetFlag(FLAGS_proto));
  const std::vector<std::string> import_paths =
      RepeatedOrFlag("import_path", absl::GetFlag(FLAGS_import_path));
  const std::string protoset = absl::GetFlag(FLAGS_protoset);
  if (!protos.empty() && !protoset.empty()) {
    return absl::InvalidArgumentError("--proto and --protoset: give one of them");
  }
  absl::StatusOr<std::unique_ptr<MethodResolver>> resolver;
  if (!protos.empty()) {
    resolver = MethodResolver::FromProtoFiles(protos, import_paths);
  } else if (!protoset.empty()) {
    resolver = MethodResolver::FromProtoset(protoset);
  } else {
    grpc::ChannelArguments args;
    server::host::ApplyChannelTlsArguments(options.tls, args);
    resolver = MethodResolver::FromReflection(
        grpc::CreateCustomChannel(options.target, options.credentials, args), options.target,
        call->service, options.connect_timeout);
  }
  if (!resolver.ok()) return resolver.status();
  absl::StatusOr<const google::protobuf::MethodDescriptor*> method = (*resolver)->FindMethod(*call);
  if (!method.ok()) return method.status();
  TemplateOptions templates;
  templates.ring = absl::GetFlag(FLAGS_data_ring);
  templates.seed = absl::GetFlag(FLAGS_seed);
  templates.names.service = call->service;
  templates.names.method = call->method;
  templates.names.input_type = (*method)->input_type()->full_name();
  templates.names.output_type = (*method)->output_type()->full_name();
  absl::StatusOr<std::vector<std::string>> requests =
      SerializeRequests(*(*method)->input_type(), absl::GetFlag(FLAGS_data), templates);
  if (!requests.ok()) return requests.status();
  options.method = LoadMethod::kGeneric;
  options.server_streaming = (*method)->server_streaming();
  options.call_path = call->path();
  options.call_name = call->display();
  *source =
      absl::StrCat(requests->size(), requests->size() == 1 ? " request" : " requests", " of ",
                   (*method)->input_type()->full_name(), ", method from ", (*resolver)->source());
  return PrepareGenericRequests(options, *requests);
}

int CpusInAffinityMask() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

absl::StatusOr<std::vector<double>> ParseList(const std::vector<std::string>& values,
                                              const char* flag, bool integer) {
  std::vector<double> out;
  for (const std::string& value : values) {
    double number = 0;
    if (!absl::SimpleAtod(value, &number) || !(number > 0) ||
        (integer && number != static_cast<double>(static_cast<long long>(number)))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", flag, ": '", value, "' is not a positive ", integer ? "integer" : "number"));
    }
    out.push_back(number);
  }
  return out;
}

// --rate values: numbers, or START:END:STEP expanded into its steps. Sets
// *stepped if any value was a schedule.
absl::StatusOr<std::vector<double>> ParseRates(const std::vector<std::string>& values,
                                               bool* stepped) {
  std::vector<std::string> plain;
  std::vector<double> out;
  *stepped = false;
  for (const std::string& value : values) {
    const std::vector<std::string> parts = absl::StrSplit(value, ':');
    if (parts.size() == 1) {
      absl::StatusOr<std::vector<double>> one = ParseList({value}, "rate", /*integer=*/false);
      if (!one.ok()) return one.status();
      out.push_back(one->front());
      continue;
    }
    double start = 0, end = 0, step = 0;
    if (parts.size() != 3 || !absl::SimpleAtod(parts[0], &start) ||
        !absl::SimpleAtod(parts[1], &end) || !absl::SimpleAtod(parts[2], &step) || !(start > 0) ||
        !(end > 0) || !(step > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--rate: '", value, "' is not START:END:STEP with three positive numbers"));
    }
    const double direction = end >= start ? 1 : -1;
    const double span = std::abs(end - start);
    const auto steps = static_cast<long long>(std::floor(span / step + 1e-9)) + 1;
    if (steps > 1000) {
      return absl::InvalidArgumentError(
          absl::StrCat("--rate: '", value, "' has ", steps, " steps, more than 1000"));
    }
    for (long long i = 0; i < steps; ++i) {
      out.push_back(start + direction * step * static_cast<double>(i));
    }
    *stepped = true;
  }
  return out;
}

std::string RateLabel(double rate) {
  return rate == static_cast<double>(static_cast<long long>(rate))
             ? absl::StrCat(static_cast<long long>(rate))
             : absl::StrFormat("%g", rate);
}

void RunOne(benchmark::State& state, const LoadOptions& options,
            const std::shared_ptr<const LoadRequests>& requests, const std::string& name) {
  absl::StatusOr<LoadResult> result;
  for (auto _ : state) {
    result = RunLoad(options, *requests);
    if (!result.ok()) break;
    // The benchmark's time is wall time per successful call (1 / rate), so
    // compare.py, which compares times only, compares throughput.
    const double seconds = absl::ToDoubleSeconds(result->elapsed);
    state.SetIterationTime(result->succeeded > 0 ? seconds / static_cast<double>(result->succeeded)
                                                 : seconds);
  }
  Registry& runs = Runs();
  runs.any_run = true;
  if (!result.ok()) {
    state.SkipWithError(std::string(result.status().message()).c_str());
    runs.failures.push_back(absl::StrCat(name, ": ", result.status().message()));
    std::fprintf(stderr, "inventory_bench: %s: %s\n", name.c_str(),
                 std::string(result.status().message()).c_str());
    return;
  }
  const LoadResult& r = *result;
  const auto us = [&](double q) { return static_cast<double>(r.latency_ns.Percentile(q)) / 1e3; };
  state.counters["items_per_second"] = r.calls_per_second() * r.items_per_call;
  state.counters["calls_per_second"] = r.calls_per_second();
  state.counters["p50_us"] = us(0.5);
  state.counters["p90_us"] = us(0.9);
  state.counters["p99_us"] = us(0.99);
  state.counters["p999_us"] = us(0.999);
  state.counters["max_us"] = static_cast<double>(r.latency_ns.max()) / 1e3;
  state.counters["calls"] = static_cast<double>(r.completed());
  state.counters["errors"] = static_cast<double>(r.failed);
  if (options.method == LoadMethod::kGet) {
    state.counters["not_available"] = static_cast<double>(r.not_available);
  }
  state.counters["error_ratio"] = r.error_ratio();
  for (int outcome = 1; outcome < kOutcomes; ++outcome) {
    if (r.by_outcome[outcome] > 0) {
      state.counters["errors_" + OutcomeName(outcome)] = static_cast<double>(r.by_outcome[outcome]);
    }
  }
  if (options.rate > 0) {
    state.counters["offered_rate"] = options.rate;
    state.counters["scheduled"] = static_cast<double>(r.scheduled);
    state.counters["unsent"] = static_cast<double>(r.unsent);
  }
  if (r.server_streaming) {
    state.counters["messages"] = static_cast<double>(r.messages);
    state.counters["messages_per_call"] = r.messages_per_call.mean();
    state.counters["first_message_p50_us"] =
        static_cast<double>(r.first_message_ns.Percentile(0.5)) / 1e3;
    state.counters["first_message_p99_us"] =
        static_cast<double>(r.first_message_ns.Percentile(0.99)) / 1e3;
  }
  if (r.succeeded > 0) {
    state.counters["client_cpu_us_per_call"] =
        1e6 * r.client_cpu_seconds / static_cast<double>(r.succeeded);
  }
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format == "json") {
    std::printf("%s\n", FormatSummaryJson(options, r).c_str());
  } else if (format == "csv") {
    static bool header_printed = false;
    if (!header_printed) std::printf("%s\n", FormatSummaryCsvHeader().c_str());
    header_printed = true;
    std::printf("%s\n", FormatSummaryCsv(options, r).c_str());
  } else {
    // text, and html or benchmark_json (whose stdout is the page or the
    // JSON): the summary on stderr.
    std::fprintf(stderr, "%s", FormatSummary(options, r).c_str());
    if (format == "html") runs.reported.emplace_back(options, r);
  }
  std::fflush(stdout);
  const double max_ratio = absl::GetFlag(FLAGS_max_error_ratio);
  if (r.completed() == 0) {
    runs.failures.push_back(absl::StrCat(name, ": no call completed"));
  } else if (r.error_ratio() > max_ratio) {
    runs.failures.push_back(
        absl::StrFormat("%s: %d of %d calls failed (%.4g%%), more than "
                        "--max_error_ratio=%g allows",
                        name, r.failed, r.completed(), 100 * r.error_ratio(), max_ratio));
  }
}

}  // namespace

bool LoadModeRequested() { return !absl::GetFlag(FLAGS_target).empty(); }

void CollectRepeatedFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--")) {
      if (!absl::ConsumePrefix(&arg, "-")) continue;
    }
    // The name as the command line parser takes it: dashes or underscores.
    const std::size_t eq = arg.find('=');
    const std::string name = absl::StrReplaceAll(arg.substr(0, eq), {{"-", "_"}});
    for (absl::string_view flag : {"proto", "import_path"}) {
      if (name != flag) continue;
      absl::string_view value;
      if (eq != absl::string_view::npos) {
        value = arg.substr(eq + 1);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        continue;
      }
      for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        Repeated(flag).emplace_back(part);
      }
    }
  }
}

absl::Status RegisterLoadBenchmarks() {
  LoadOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  const bool generic = !absl::GetFlag(FLAGS_call).empty();
  if (!generic && (!absl::GetFlag(FLAGS_proto).empty() || !absl::GetFlag(FLAGS_protoset).empty() ||
                   !absl::GetFlag(FLAGS_data).empty())) {
    return absl::InvalidArgumentError("--proto, --protoset and --data need --call");
  }
  absl::StatusOr<LoadMethodInfo> method = LoadMethodFromFlag(absl::GetFlag(FLAGS_method));
  if (!method.ok()) return method.status();
  options.method = method->method;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> metadata =
      ParseMetadata(absl::GetFlag(FLAGS_metadata));
  if (!metadata.ok()) return metadata.status();
  options.metadata = *std::move(metadata);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.lines = absl::GetFlag(FLAGS_lines);
  options.order_prefix = absl::GetFlag(FLAGS_order_prefix);
  if (options.order_prefix.empty()) {
    options.order_prefix = absl::StrCat("bench-", getpid(), "-", absl::ToUnixSeconds(absl::Now()));
  }
  const std::string distribution = absl::GetFlag(FLAGS_ids);  // also in the run's label
  absl::StatusOr<IdDistribution> distribution_choice = FlagChoice<IdDistribution>(
      "ids", distribution,
      {{"uniform", IdDistribution::kUniform}, {"zipf", IdDistribution::kZipf}});
  if (!distribution_choice.ok()) return distribution_choice.status();
  options.distribution = *distribution_choice;
  options.zipf_s = absl::GetFlag(FLAGS_zipf_s);
  if (!(options.zipf_s > 0)) return absl::InvalidArgumentError("--zipf_s must be > 0");
  options.seed = absl::GetFlag(FLAGS_seed);
  options.duration = absl::GetFlag(FLAGS_duration);
  options.total = absl::GetFlag(FLAGS_total);
  options.warmup = absl::GetFlag(FLAGS_warmup);
  options.deadline = absl::GetFlag(FLAGS_deadline);
  options.connections = absl::GetFlag(FLAGS_connections);
  options.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  options.client_cqs = absl::GetFlag(FLAGS_client_cqs);
  if (options.client_cqs == 0) options.client_cqs = CpusInAffinityMask();
  if (options.client_cqs < 0) return absl::InvalidArgumentError("--client_cqs must be >= 0");
  options.max_outstanding = absl::GetFlag(FLAGS_max_outstanding);
  if (options.max_outstanding < 0) {
    return absl::InvalidArgumentError("--max_outstanding must be >= 0");
  }
  if (options.max_outstanding == 0) options.max_outstanding = 512 * options.client_cqs;
  options.verify = absl::GetFlag(FLAGS_verify);
  absl::StatusOr<ClientApi> client_api =
      FlagChoice<ClientApi>("client_api", absl::GetFlag(FLAGS_client_api),
                            {{"core", ClientApi::kCore}, {"cpp", ClientApi::kCpp}});
  if (!client_api.ok()) return client_api.status();
  options.client_api = *client_api;
  options.coalesce_writes = absl::GetFlag(FLAGS_coalesce_writes);
  options.channel_args = absl::GetFlag(FLAGS_channel_args);
  options.tls = server::host::ChannelTlsOptionsFromFlags();
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      server::host::MakeChannelCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  options.credentials = *std::move(credentials);
  options.progress = absl::GetFlag(FLAGS_progress) ? stderr : nullptr;
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format != "text" && format != "json" && format != "csv" && format != "html" &&
      format != "benchmark_json") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--format must be text, json, csv, html or benchmark_json, got '", format, "'"));
  }
  if (absl::GetFlag(FLAGS_max_error_ratio) < 0 || absl::GetFlag(FLAGS_max_error_ratio) > 1) {
    return absl::InvalidArgumentError("--max_error_ratio must be in [0, 1]");
  }
  // Checked here, before any run, so a typo fails fast.
  if (options.connections < 1) return absl::InvalidArgumentError("--connections must be >= 1");
  if (options.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--deadline must be positive");
  }
  if (options.duration <= absl::ZeroDuration() || options.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration must be positive and --warmup not negative");
  }

  absl::StatusOr<std::shared_ptr<const LoadRequests>> requests;
  std::string request_source;
  const std::string ids_file = absl::GetFlag(FLAGS_ids_file);
  if (generic) {
    requests = PrepareCall(options, &request_source);
  } else {
    std::vector<std::string> ids;
    if (!ids_file.empty()) {
      absl::StatusOr<std::vector<std::string>> loaded = LoadIdsFile(ids_file);
      if (!loaded.ok()) return loaded.status();
      ids = *std::move(loaded);
    } else {
      const int size = absl::GetFlag(FLAGS_catalog_size);
      if (size < 1) return absl::InvalidArgumentError("--catalog_size must be >= 1");
      ids = SyntheticIds(absl::GetFlag(FLAGS_id_prefix), absl::GetFlag(FLAGS_id_width), size);
    }
    request_source = ids_file.empty()
                         ? absl::StrCat(distribution, " over ", ids.size(), " synthetic ids")
                         : absl::StrCat(distribution, " over ", ids.size(), " ids from ", ids_file);
    requests = PrepareRequests(options, std::move(ids));
  }
  if (!requests.ok()) return requests.status();

  bool stepped = false;
  absl::StatusOr<std::vector<double>> rates = ParseRates(absl::GetFlag(FLAGS_rate), &stepped);
  if (!rates.ok()) return rates.status();
  absl::StatusOr<std::vector<double>> inflight =
      ParseList(absl::GetFlag(FLAGS_inflight), "inflight", /*integer=*/true);
  if (!inflight.ok()) return inflight.status();
  if (rates->empty() && inflight->empty()) {
    return absl::InvalidArgumentError("--inflight (closed loop) or --rate (open loop) is empty");
  }

  const std::string method_name = generic ? options.call_name : std::string(method->name);
  const std::string method_path = generic ? options.call_path : std::string(method->path);
  std::string shape;
  if (options.method == LoadMethod::kBatch) shape = absl::StrCat("/batch:", options.batch_size);
  if (options.method == LoadMethod::kReserve || options.method == LoadMethod::kPlaceOrder) {
    shape = absl::StrCat("/lines:", options.lines);
  }
  auto add = [&](LoadOptions run, const std::string& level) {
    const std::string name =
        absl::StrCat("Load/", method_name, shape, "/", level, "/connections:", run.connections);
    benchmark::RegisterBenchmark(name.c_str(),
                                 [run, requests = *requests, name](benchmark::State& state) {
                                   RunOne(state, run, requests, name);
                                 })
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  };
  const absl::Duration step_duration = absl::GetFlag(FLAGS_rate_step_duration);
  if (step_duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--rate_step_duration must not be negative");
  }
  if (step_duration > absl::ZeroDuration() && !stepped) {
    return absl::InvalidArgumentError("--rate_step_duration needs --rate=START:END:STEP");
  }
  if (!rates->empty()) {
    for (std::size_t i = 0; i < rates->size(); ++i) {
      LoadOptions run = options;
      run.rate = (*rates)[i];
      std::string level = absl::StrCat("rate:", RateLabel(run.rate));
      if (stepped) {
        // One run per step, one after another: the first warms up, the
        // others follow on at once.
        if (step_duration > absl::ZeroDuration()) run.duration = step_duration;
        if (i > 0) run.warmup = absl::ZeroDuration();
        level = absl::StrCat("step:", i + 1, "/", level);
      }
      add(run, level);
    }
  } else {
    for (double level : *inflight) {
      LoadOptions run = options;
      run.inflight = static_cast<int>(level);
      add(run, absl::StrCat("inflight:", run.inflight));
    }
  }

  benchmark::AddCustomContext("load_target", options.target);
  benchmark::AddCustomContext("load_method", method_path);
  benchmark::AddCustomContext(generic ? "load_requests" : "load_ids", request_source);
  benchmark::AddCustomContext(
      "load_shape", absl::StrCat(options.connections,
                                 " connections, client completion queues: ", options.client_cqs,
                                 ", duration ", absl::FormatDuration(options.duration),
                                 ", warm-up ", absl::FormatDuration(options.warmup), ", deadline ",
                                 absl::FormatDuration(options.deadline),
                                 rates->empty() ? ", closed loop" : ", open loop",
                                 options.tls.enabled ? ", TLS" : ", plaintext"));
  return absl::OkStatus();
}

namespace {

// Google Benchmark's table stays off stdout when the summary is json or csv.
class SilentReporter final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

benchmark::BenchmarkReporter* DisplayReporter() {
  static SilentReporter* silent = new SilentReporter;
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format == "benchmark_json") {
    static benchmark::JSONReporter* json = new benchmark::JSONReporter;
    return json;
  }
  return format == "text" ? nullptr : silent;
}

int LoadModeExitStatus() {
  const Registry& runs = Runs();
  if (absl::GetFlag(FLAGS_format) == "html" && !runs.reported.empty()) {
    const std::string page = FormatHtmlReport(runs.reported);
    std::fwrite(page.data(), 1, page.size(), stdout);
    std::fflush(stdout);
  }
  if (!runs.any_run) {
    std::fprintf(stderr, "inventory_bench: no load run matched --benchmark_filter\n");
    return 1;
  }
  for (const std::string& failure : runs.failures) {
    std::fprintf(stderr, "inventory_bench: FAILED %s\n", failure.c_str());
  }
  return runs.failures.empty() ? 0 : 1;
}

void PrintHelp() {
  benchmark::PrintDefaultHelp();
  std::printf(
      "\nLoad mode: inventory_bench --target=host:port [flags], one benchmark per --rate or\n"
      "--inflight value (docs/benchmarking.md). Its flags, and every other flag of the "
      "project:\n%s",
      server::host::FlagsHelp(/*full=*/false).c_str());
}

}  // namespace bench
