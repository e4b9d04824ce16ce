// inventory_bench's load mode: with --target=host:port, one Google Benchmark
// entry per offered rate (--rate, open loop) or per in-flight level
// (--inflight, closed loop), each a load_client.h run against the target.
// The flags are abseil flags defined in load_mode.cc; parse them after
// benchmark::Initialize has taken its own --benchmark_* flags.
#ifndef BENCH_LOAD_MODE_H_
#define BENCH_LOAD_MODE_H_

#include <benchmark/benchmark.h>

#include "absl/status/status.h"

namespace bench {

// Call before the command line is parsed: remembers every value of the
// flags that may be repeated (--proto, --import_path), which abseil would
// reduce to the last one.
void CollectRepeatedFlags(int argc, char** argv);

// True if --target was given.
bool LoadModeRequested();

// Validates the load flags, loads the ids and registers the benchmarks.
absl::Status RegisterLoadBenchmarks();

// The reporter for Google Benchmark's own table: null (its default) with
// --format=text, else one that prints nothing, so stdout holds only the
// json or csv summaries.
benchmark::BenchmarkReporter* DisplayReporter();

// After the benchmarks ran: 0, or 1 (with the reason on stderr) if a run
// could not be made or its share of failed calls exceeded --max_error_ratio.
int LoadModeExitStatus();

// Benchmark's own --help, followed by the load-mode flags.
void PrintHelp();

}  // namespace bench

#endif  // BENCH_LOAD_MODE_H_
