// Which product ids the load tool asks for: a list of ids (synthetic, named
// like the server's synthetic catalog, or read from a file) and a sampler that
// picks an index into it, uniformly or Zipf-distributed.
//
// Everything here is deterministic for a given seed, so a test can check the
// distribution without flakiness and two load runs ask for the same ids.
#ifndef BENCH_LOAD_IDS_H_
#define BENCH_LOAD_IDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bench {

// `count` ids `prefix` + index zero-padded to `width` digits: with the
// defaults ("sku-", 8) the ids of inventory_server --synthetic_products.
std::vector<std::string> SyntheticIds(absl::string_view prefix, int width, int count);

// One id per line, verbatim (a trailing '\r' and a leading UTF-8 byte-order
// mark are dropped; empty lines are skipped). Ids are not validated: a file
// may name invalid ids on purpose, to load the server's error path.
// NOT_FOUND if the file cannot be read; INVALID_ARGUMENT (naming the file and
// line) if it holds no id or a line longer than kMaxIdFileLineBytes.
absl::StatusOr<std::vector<std::string>> LoadIdsFile(const std::string& path);
absl::StatusOr<std::vector<std::string>> ParseIds(absl::string_view text, absl::string_view name);
inline constexpr std::size_t kMaxIdFileLineBytes = 4096;

// xoshiro256** seeded through splitmix64: fast, and the same sequence on
// every platform (unlike the std:: distributions).
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t Next();
  // Uniform in [0, 1), 53 random bits.
  double NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n) for n > 0 (multiply-shift; the bias is below 2^-32
  // for any n that fits in memory).
  std::uint64_t NextBelow(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

 private:
  std::uint64_t s_[4];
};

// Ranks 1..n with P(k) proportional to 1 / k^s (s > 0; s = 1 included), by
// rejection-inversion (Hörmann and Derflinger 1996, as in Apache Commons
// RNG): O(1) per sample, no tables, whatever n.
class ZipfSampler {
 public:
  ZipfSampler(std::uint64_t n, double s);
  std::uint64_t Sample(Rng& rng) const;  // in [1, n]

 private:
  double H(double x) const;                 // x^-s
  double HIntegral(double x) const;         // an antiderivative of H
  double HIntegralInverse(double x) const;  // its inverse

  std::uint64_t n_;
  double exponent_;
  double h_integral_x1_;
  double h_integral_n_;
  double s_;
};

// An index in [0, size): uniform, or Zipf with rank 1 = index 0 (the first
// id of the list is the most popular).
class IdSampler {
 public:
  static IdSampler Uniform(std::uint64_t size) { return IdSampler(size, 0); }
  static IdSampler Zipf(std::uint64_t size, double s) { return IdSampler(size, s); }
  std::uint64_t Next(Rng& rng) const {
    return zipf_s_ > 0 ? zipf_.Sample(rng) - 1 : rng.NextBelow(size_);
  }
  std::uint64_t size() const { return size_; }

 private:
  IdSampler(std::uint64_t size, double s) : size_(size), zipf_s_(s), zipf_(size, s > 0 ? s : 1) {}
  std::uint64_t size_;
  double zipf_s_;
  ZipfSampler zipf_;
};

}  // namespace bench

#endif  // BENCH_LOAD_IDS_H_
