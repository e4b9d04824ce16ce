// A latency histogram for the load tool: every call is recorded, and
// percentiles come from the distribution, never from a mean.
//
// Log-linear buckets (the HdrHistogram idea): values below 2^kSubBucketBits
// are exact; above, each power-of-two range is split into 2^kSubBucketBits
// equal buckets, so a reported percentile is within 1/2^kSubBucketBits
// (0.8%) of the true value. Fixed memory (~45 KiB), O(1) recording with no
// allocation, and histograms merge by adding counts, so each load thread keeps
// its own and they are combined at the end.
#ifndef BENCH_LATENCY_HISTOGRAM_H_
#define BENCH_LATENCY_HISTOGRAM_H_

#include <array>
#include <cstdint>

namespace bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;
  // Largest value kept exactly in range; larger values are clamped to it
  // (2^40 ns is over 18 minutes) and still counted.
  static constexpr int kMaxValueBits = 40;
  static constexpr std::uint64_t kMaxValue = (std::uint64_t{1} << kMaxValueBits) - 1;

  // Records one value (nanoseconds, or any unit the caller keeps). Not
  // thread-safe: one histogram per thread, then Merge.
  void Record(std::uint64_t value);

  // Adds every value recorded in `other`.
  void Merge(const LatencyHistogram& other);

  // The value at quantile q in [0, 1]: the smallest bucket value at or below
  // which at least q of the recorded values lie, reported as the bucket's
  // upper bound clamped to the largest value seen (so Percentile(1) is the
  // exact maximum). 0 when empty.
  std::uint64_t Percentile(double q) const;

  // How many recorded values are at or below `value`, to bucket precision:
  // values sharing `value`'s bucket count as at or below it. count() for
  // value >= max().
  std::uint64_t CountAtOrBelow(std::uint64_t value) const;

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  std::uint64_t max() const { return max_; }
  // Exact mean of the recorded (unclamped) values; for reports only.
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }

 private:
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  static constexpr int kBuckets = (kMaxValueBits - kSubBucketBits + 1) * kSubBuckets;

  static int BucketOf(std::uint64_t value);
  static std::uint64_t UpperBoundOf(int bucket);

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
  std::uint64_t max_ = 0;
  unsigned __int128 sum_ = 0;
};

}  // namespace bench

#endif  // BENCH_LATENCY_HISTOGRAM_H_
