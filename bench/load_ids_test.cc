// The load tool's ids: synthetic names, id files and their errors, and the
// samplers. Every sampler check uses a fixed seed, so it is deterministic; the
// bounds are loose (several standard errors) so that they test the
// distribution's shape, not the luck of one seed.
#include "bench/load_ids.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "test/temp_dir.h"

namespace {

using bench::IdSampler;
using bench::Rng;
using bench::ZipfSampler;

// Theoretical P(rank k) of Zipf(n, s).
double ZipfProbability(int n, double s, int k) {
  double normalizer = 0;
  for (int i = 1; i <= n; ++i) normalizer += std::pow(i, -s);
  return std::pow(k, -s) / normalizer;
}

std::vector<int> ZipfCounts(int n, double s, int samples, std::uint64_t seed) {
  ZipfSampler sampler(n, s);
  Rng rng(seed);
  std::vector<int> counts(n + 1, 0);
  for (int i = 0; i < samples; ++i) {
    const std::uint64_t k = sampler.Sample(rng);
    REQUIRE(k >= 1);
    REQUIRE(k <= static_cast<std::uint64_t>(n));
    ++counts[k];
  }
  return counts;
}

}  // namespace

TEST_CASE("synthetic ids are named like the server's synthetic catalog", "[load-ids]") {
  std::vector<std::string> ids = bench::SyntheticIds("sku-", 8, 1001);
  REQUIRE(ids.size() == 1001);
  CHECK(ids[0] == "sku-00000000");
  CHECK(ids[42] == "sku-00000042");
  CHECK(ids[1000] == "sku-00001000");
  // A width smaller than the number keeps every digit.
  CHECK(bench::SyntheticIds("p", 2, 1000)[999] == "p999");
  CHECK(bench::SyntheticIds("p", 0, 3)[2] == "p2");
}

TEST_CASE("an ids file is one id per line, sent verbatim", "[load-ids]") {
  auto ids = bench::ParseIds("\xEF\xBB\xBFsku-1\r\n\nsku-2\n  spaced id \nlast-without-newline",
                             "ids.txt");
  REQUIRE(ids.ok());
  CHECK(*ids == std::vector<std::string>{"sku-1", "sku-2", "  spaced id ", "last-without-newline"});
  // Invalid ids stay: a file may aim at the server's error path.
  auto invalid = bench::ParseIds(std::string(200, 'x') + "\n", "ids.txt");
  REQUIRE(invalid.ok());
  CHECK((*invalid)[0].size() == 200);
}

TEST_CASE("ids file errors name the file and the line", "[load-ids]") {
  SECTION("a missing file") {
    auto ids = bench::LoadIdsFile("/nonexistent/dir/ids.txt");
    REQUIRE_FALSE(ids.ok());
    CHECK(ids.status().code() == absl::StatusCode::kNotFound);
    CHECK(ids.status().message().find("/nonexistent/dir/ids.txt") != absl::string_view::npos);
  }
  SECTION("a file without ids") {
    const testing_util::TempDir dir("load_ids_test");
    const std::string path = dir.WriteFile("ids.txt", "\n\r\n\n");
    auto ids = bench::LoadIdsFile(path);
    REQUIRE_FALSE(ids.ok());
    CHECK(ids.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(ids.status().message().find(path) != absl::string_view::npos);
    CHECK(ids.status().message().find("no ids") != absl::string_view::npos);
  }
  SECTION("a line too long to be an id") {
    auto ids = bench::ParseIds("a\nb\n" + std::string(bench::kMaxIdFileLineBytes + 1, 'x') + "\n",
                               "ids.txt");
    REQUIRE_FALSE(ids.ok());
    CHECK(ids.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(ids.status().message().find("ids.txt:3:") != absl::string_view::npos);
  }
  SECTION("a readable file loads") {
    const testing_util::TempDir dir("load_ids_test");
    const std::string path = dir.WriteFile("ids.txt", "x\ny\n");
    auto ids = bench::LoadIdsFile(path);
    REQUIRE(ids.ok());
    CHECK(ids->size() == 2);
  }
}

TEST_CASE("the generator is deterministic, its doubles uniform below 1", "[load-ids]") {
  Rng a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t x = a.Next();
    CHECK(x == b.Next());
    differs |= x != c.Next();
  }
  CHECK(differs);
  Rng rng(1);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    const double u = rng.NextDouble();
    REQUIRE(u >= 0);
    REQUIRE(u < 1);
    sum += u;
  }
  CHECK(sum / 100000 == Approx(0.5).margin(0.01));
}

TEST_CASE("Zipf(0.99) over 1000 ids: rank frequencies match the theory", "[load-ids]") {
  constexpr int kN = 1000, kSamples = 200000;
  constexpr double kS = 0.99;
  const std::vector<int> counts = ZipfCounts(kN, kS, kSamples, 42);
  for (int rank : {1, 2, 3, 10, 100}) {
    const double expected = ZipfProbability(kN, kS, rank) * kSamples;
    INFO("rank " << rank << ": " << counts[rank] << " samples, expected " << expected);
    // Rank 1 expects ~26,000 samples (standard error ~0.6%), rank 100 ~270
    // (~6%): 5% and 25% are wide bounds.
    CHECK(std::abs(counts[rank] - expected) <= (rank < 100 ? 0.05 : 0.25) * expected);
  }
  // The tail as a whole: ranks 501..1000.
  double tail_expected = 0;
  int tail = 0;
  for (int rank = 501; rank <= kN; ++rank) {
    tail_expected += ZipfProbability(kN, kS, rank) * kSamples;
    tail += counts[rank];
  }
  INFO("tail: " << tail << " samples, expected " << tail_expected);
  CHECK(std::abs(tail - tail_expected) <= 0.05 * tail_expected);
}

TEST_CASE("Zipf at s = 1 and s = 2, and with one id", "[load-ids]") {
  for (double s : {1.0, 2.0}) {
    const std::vector<int> counts = ZipfCounts(100, s, 100000, 3);
    const double expected = ZipfProbability(100, s, 1) * 100000;
    INFO("s=" << s << " rank 1: " << counts[1] << ", expected " << expected);
    CHECK(std::abs(counts[1] - expected) <= 0.05 * expected);
  }
  ZipfSampler one(1, 0.99);
  Rng rng(5);
  for (int i = 0; i < 100; ++i) CHECK(one.Sample(rng) == 1);
}

TEST_CASE("IdSampler: uniform spreads evenly, zipf favours index 0", "[load-ids]") {
  Rng rng(11);
  IdSampler uniform = IdSampler::Uniform(100);
  std::vector<int> counts(100, 0);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t index = uniform.Next(rng);
    REQUIRE(index < 100);
    ++counts[index];
  }
  for (int count : counts) CHECK(std::abs(count - 1000) <= 200);  // ~6 standard errors

  IdSampler zipf = IdSampler::Zipf(100, 0.99);
  std::vector<int> zipf_counts(100, 0);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t index = zipf.Next(rng);
    REQUIRE(index < 100);
    ++zipf_counts[index];
  }
  CHECK(zipf_counts[0] > zipf_counts[1]);
  CHECK(zipf_counts[1] > zipf_counts[10]);
  CHECK(zipf_counts[0] == Approx(ZipfProbability(100, 0.99, 1) * 100000).epsilon(0.05));
}
