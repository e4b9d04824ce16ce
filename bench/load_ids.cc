#include "bench/load_ids.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bench {

std::vector<std::string> SyntheticIds(absl::string_view prefix, int width, int count) {
  std::vector<std::string> ids;
  ids.reserve(count > 0 ? count : 0);
  for (int i = 0; i < count; ++i) {
    std::string digits = absl::StrCat(i);
    if (static_cast<int>(digits.size()) < width) digits.insert(0, width - digits.size(), '0');
    ids.push_back(absl::StrCat(prefix, digits));
  }
  return ids;
}

absl::StatusOr<std::vector<std::string>> ParseIds(absl::string_view text, absl::string_view name) {
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<std::string> ids;
  int line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t end = text.find('\n');
    absl::string_view line = text.substr(0, end);
    text.remove_prefix(end == absl::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxIdFileLineBytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s:%d: line of %d bytes; an id line may have at most %d", name,
                          line_number, line.size(), kMaxIdFileLineBytes));
    }
    if (!line.empty()) ids.emplace_back(line);
  }
  if (ids.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": no ids (expected one product id per line)"));
  }
  return ids;
}

absl::StatusOr<std::vector<std::string>> LoadIdsFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ids file ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::NotFoundError(absl::StrCat("error reading ids file ", path));
  return ParseIds(text.str(), path);
}

namespace {

std::uint64_t SplitMix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// log1p(x) / x, continuous at 0.
double Helper1(double x) {
  return std::fabs(x) > 1e-8 ? std::log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x));
}

// expm1(x) / x, continuous at 0.
double Helper2(double x) {
  return std::fabs(x) > 1e-8 ? std::expm1(x) / x
                             : 1 + x * 0.5 * (1 + x * (1.0 / 3) * (1 + 0.25 * x));
}

}  // namespace

Rng::Rng(std::uint64_t seed) {
  for (std::uint64_t& word : s_) word = SplitMix64(seed);
}

std::uint64_t Rng::Next() {
  const std::uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

ZipfSampler::ZipfSampler(std::uint64_t n, double s)
    : n_(std::max<std::uint64_t>(n, 1)), exponent_(s) {
  h_integral_x1_ = HIntegral(1.5) - 1.0;
  h_integral_n_ = HIntegral(static_cast<double>(n_) + 0.5);
  s_ = 2.0 - HIntegralInverse(HIntegral(2.5) - H(2.0));
}

double ZipfSampler::H(double x) const { return std::exp(-exponent_ * std::log(x)); }

double ZipfSampler::HIntegral(double x) const {
  const double log_x = std::log(x);
  return Helper2((1.0 - exponent_) * log_x) * log_x;
}

double ZipfSampler::HIntegralInverse(double x) const {
  double t = x * (1.0 - exponent_);
  if (t < -1.0) t = -1.0;  // rounding only: the true value is above -1
  return std::exp(Helper1(t) * x);
}

std::uint64_t ZipfSampler::Sample(Rng& rng) const {
  for (;;) {
    // Uniform in (h_integral_x1_, h_integral_n_].
    const double u = h_integral_n_ + rng.NextDouble() * (h_integral_x1_ - h_integral_n_);
    const double x = HIntegralInverse(u);
    double k = std::floor(x + 0.5);
    if (k < 1) {
      k = 1;
    } else if (k > static_cast<double>(n_)) {
      k = static_cast<double>(n_);
    }
    // Accept at once in the region where the hat equals the density; else
    // compare with the exact integral.
    if (k - x <= s_ || u >= HIntegral(k + 0.5) - H(k)) return static_cast<std::uint64_t>(k);
  }
}

}  // namespace bench
