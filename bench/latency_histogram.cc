#include "bench/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace bench {

// Bucket layout: [0, kSubBuckets) holds values 0..kSubBuckets-1 exactly.
// For a value with highest set bit h >= kSubBucketBits, the range
// [2^h, 2^(h+1)) maps to kSubBuckets buckets of width 2^(h - kSubBucketBits),
// starting at bucket (h - kSubBucketBits + 1) * kSubBuckets.
int LatencyHistogram::BucketOf(std::uint64_t value) {
  if (value < static_cast<std::uint64_t>(kSubBuckets)) return static_cast<int>(value);
  const int highest_bit = 63 - __builtin_clzll(value);
  const int shift = highest_bit - kSubBucketBits;
  const int sub_bucket = static_cast<int>((value >> shift) & (kSubBuckets - 1));
  return (shift + 1) * kSubBuckets + sub_bucket;
}

std::uint64_t LatencyHistogram::UpperBoundOf(int bucket) {
  if (bucket < kSubBuckets) return static_cast<std::uint64_t>(bucket);
  const int shift = bucket / kSubBuckets - 1;
  const std::uint64_t sub_bucket = static_cast<std::uint64_t>(bucket % kSubBuckets);
  const std::uint64_t lower =
      (std::uint64_t{1} << (shift + kSubBucketBits)) | (sub_bucket << shift);
  return lower + (std::uint64_t{1} << shift) - 1;
}

void LatencyHistogram::Record(std::uint64_t value) {
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  ++counts_[BucketOf(std::min(value, kMaxValue))];
  ++count_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

std::uint64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank (1-based) of the value at quantile q, as a sorted array would
  // define it: ceil(q * n), at least 1.
  const std::uint64_t rank =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * count_)));
  std::uint64_t seen = 0;
  for (int bucket = 0; bucket < kBuckets; ++bucket) {
    seen += counts_[bucket];
    if (seen >= rank) return std::clamp(UpperBoundOf(bucket), min(), max_);
  }
  return max_;
}

std::uint64_t LatencyHistogram::CountAtOrBelow(std::uint64_t value) const {
  if (count_ == 0) return 0;
  if (value >= max_) return count_;
  const int last = BucketOf(std::min(value, kMaxValue));
  std::uint64_t total = 0;
  for (int bucket = 0; bucket <= last; ++bucket) total += counts_[bucket];
  return total;
}

}  // namespace bench
