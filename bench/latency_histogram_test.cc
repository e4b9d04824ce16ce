#include "bench/latency_histogram.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

namespace {

using bench::LatencyHistogram;

// The value at quantile q of sorted `values`, defined as the histogram
// defines it: the ceil(q * n)-th smallest.
std::uint64_t Reference(const std::vector<std::uint64_t>& sorted, double q) {
  std::size_t rank = static_cast<std::size_t>(std::ceil(q * sorted.size()));
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

// The promised precision: within 1/2^kSubBucketBits of the true value.
bool WithinPrecision(std::uint64_t reported, std::uint64_t exact) {
  const double tolerance = static_cast<double>(exact) / (1 << LatencyHistogram::kSubBucketBits);
  return reported >= exact && static_cast<double>(reported - exact) <= tolerance;
}

std::vector<std::uint64_t> LatencyLikeSample(std::mt19937_64& random, int n) {
  // Log-normal around ~200 µs in ns, with a heavy tail: the shape RPC
  // latencies have, spanning several powers of two.
  std::lognormal_distribution<double> latency(std::log(200'000.0), 1.2);
  std::vector<std::uint64_t> values;
  for (int i = 0; i < n; ++i) values.push_back(static_cast<std::uint64_t>(latency(random)));
  return values;
}

}  // namespace

TEST_CASE("CountAtOrBelow counts to bucket precision", "[latency_histogram]") {
  bench::LatencyHistogram h;
  CHECK(h.CountAtOrBelow(100) == 0);
  for (std::uint64_t v = 1; v <= 100000; ++v) h.Record(v);
  CHECK(h.CountAtOrBelow(0) == 0);
  CHECK(h.CountAtOrBelow(127) == 127);  // exact below 2^7
  // Within one bucket (under 0.8%) of the true count above.
  for (std::uint64_t v : {1000, 10000, 50000, 99999}) {
    const auto counted = static_cast<double>(h.CountAtOrBelow(v));
    CHECK(counted >= static_cast<double>(v));
    CHECK(counted <= static_cast<double>(v) * 1.008 + 1);
  }
  CHECK(h.CountAtOrBelow(100000) == 100000);
  CHECK(h.CountAtOrBelow(1u << 30) == 100000);
}

TEST_CASE("percentiles match a sorted reference within the stated precision", "[histogram]") {
  std::mt19937_64 random(20261125);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::uint64_t> values = LatencyLikeSample(random, 1 + round * 997);
    LatencyHistogram histogram;
    for (std::uint64_t v : values) histogram.Record(v);
    std::sort(values.begin(), values.end());
    for (double q : {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
      const std::uint64_t exact = Reference(values, q);
      const std::uint64_t reported = histogram.Percentile(q);
      INFO("n=" << values.size() << " q=" << q << " exact=" << exact << " got=" << reported);
      CHECK(WithinPrecision(reported, exact));
    }
    CHECK(histogram.count() == values.size());
    CHECK(histogram.min() == values.front());
    CHECK(histogram.max() == values.back());
    CHECK(histogram.Percentile(1.0) == values.back());
  }
}

TEST_CASE("small values are exact", "[histogram]") {
  LatencyHistogram histogram;
  for (std::uint64_t v = 0; v < 100; ++v) histogram.Record(v);
  CHECK(histogram.Percentile(0.5) == 49);
  CHECK(histogram.Percentile(0.0) == 0);
  CHECK(histogram.Percentile(1.0) == 99);
  CHECK(histogram.mean() == Approx(49.5));
}

TEST_CASE("merging equals recording everything in one histogram", "[histogram]") {
  std::mt19937_64 random(7);
  std::vector<std::uint64_t> values = LatencyLikeSample(random, 50'000);
  values.insert(values.end(), 500, 0);  // exact-range buckets must merge too
  values.insert(values.end(), 500, 3);
  std::shuffle(values.begin(), values.end(), random);
  LatencyHistogram all;
  std::vector<LatencyHistogram> parts(4);
  for (std::size_t i = 0; i < values.size(); ++i) {
    all.Record(values[i]);
    parts[i % parts.size()].Record(values[i]);
  }
  LatencyHistogram merged;
  for (const LatencyHistogram& part : parts) merged.Merge(part);
  CHECK(merged.count() == all.count());
  CHECK(merged.min() == all.min());
  CHECK(merged.max() == all.max());
  CHECK(merged.mean() == Approx(all.mean()));
  for (double q : {0.0, 0.005, 0.015, 0.1, 0.5, 0.9, 0.99, 0.999}) {
    INFO("q=" << q);
    CHECK(merged.Percentile(q) == all.Percentile(q));
  }
  LatencyHistogram empty;
  merged.Merge(empty);  // merging an empty histogram changes nothing
  CHECK(merged.count() == all.count());
  CHECK(merged.min() == all.min());
}

TEST_CASE("an empty histogram reports zeros; huge values are clamped, not lost", "[histogram]") {
  LatencyHistogram histogram;
  CHECK(histogram.Percentile(0.99) == 0);
  CHECK(histogram.count() == 0);
  histogram.Record(~std::uint64_t{0});
  histogram.Record(5);
  CHECK(histogram.count() == 2);
  CHECK(histogram.max() == ~std::uint64_t{0});
  CHECK(histogram.Percentile(0.5) == 5);
  CHECK(histogram.Percentile(1.0) >= LatencyHistogram::kMaxValue);
}

TEST_CASE("a stall in a few calls shows in p99 but not in p50", "[histogram]") {
  LatencyHistogram histogram;
  for (int i = 0; i < 980; ++i) histogram.Record(100'000);    // 100 µs
  for (int i = 0; i < 20; ++i) histogram.Record(50'000'000);  // 50 ms stalls (2%)
  CHECK(WithinPrecision(histogram.Percentile(0.5), 100'000));
  CHECK(WithinPrecision(histogram.Percentile(0.99), 50'000'000));
  CHECK(histogram.mean() > 1'000'000);  // the mean hides both facts
}
