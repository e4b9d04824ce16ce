#include <catch2/catch.hpp>
#include <string>

#include "bench/load_client.h"

namespace {

using bench::TimelineBucket;

TEST_CASE("load report: a timeline bucket's percentiles stay within its coarse bins",
          "[load_report]") {
  TimelineBucket bucket;
  CHECK(bucket.Percentile(0.5) == 0);
  // 1..1000 us, once each.
  for (std::uint64_t us = 1; us <= 1000; ++us) bucket.Record(us * 1000, /*ok=*/us % 10 != 0);
  CHECK(bucket.calls == 1000);
  CHECK(bucket.failed == 100);
  CHECK(bucket.max_ns == 1'000'000);
  const double p50 = static_cast<double>(bucket.Percentile(0.5));
  const double p99 = static_cast<double>(bucket.Percentile(0.99));
  // An upper bound of the bin holding the quantile: at or above it, within
  // a quarter doubling (19%) plus the 1024-ns unit.
  CHECK(p50 >= 500'000);
  CHECK(p50 <= 500'000 * 1.19 + 1024);
  CHECK(p99 >= 990'000);
  CHECK(bucket.Percentile(1.0) == 1'000'000);  // clamped to the max

  TimelineBucket other;
  other.Record(5'000'000, false);
  bucket.Merge(other);
  CHECK(bucket.calls == 1001);
  CHECK(bucket.failed == 101);
  CHECK(bucket.Percentile(1.0) == 5'000'000);
  // Past the last coarse bin (2^24 us), values still count, at the max.
  TimelineBucket huge;
  huge.Record(std::uint64_t{1} << 45, true);
  CHECK(huge.Percentile(0.5) == std::uint64_t{1} << 45);
}

TEST_CASE("load report: the HTML page escapes what the server sent and fetches nothing",
          "[load_report]") {
  bench::LoadOptions options;
  options.method = bench::LoadMethod::kGeneric;
  options.call_name = "pkg.Svc/<Get>";
  options.target = "127.0.0.1:1";
  bench::LoadResult result;
  result.timeline_interval = absl::Milliseconds(100);
  result.timeline.resize(5);
  for (int i = 0; i < 5; ++i) {
    for (int k = 0; k < 10; ++k) {
      const std::uint64_t ns = 1'000'000 * static_cast<std::uint64_t>(i + 1) + k;
      result.latency_ns.Record(ns);
      result.timeline[i].Record(ns, k != 0);
    }
  }
  result.succeeded = 45;
  result.failed = 5;
  result.by_outcome[0] = 45;
  result.by_outcome[3] = 5;
  result.first_message[3] = "bad <script>alert(1)</script> & more";
  const std::string page = bench::FormatHtmlReport({{options, result}});
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more") != std::string::npos);
  CHECK(page.find("pkg.Svc/&lt;Get&gt;") != std::string::npos);
  CHECK(page.find("INVALID_ARGUMENT") != std::string::npos);
  CHECK(page.find("href=") == std::string::npos);
  CHECK(page.find("src=") == std::string::npos);
  // Two charts; three series of one point per interval.
  std::size_t svgs = 0;
  for (std::size_t at = page.find("<svg "); at != std::string::npos;
       at = page.find("<svg ", at + 1)) {
    ++svgs;
  }
  CHECK(svgs == 2);
  std::size_t lines = 0;
  for (std::size_t at = page.find("<polyline"); at != std::string::npos;
       at = page.find("<polyline", at + 1)) {
    ++lines;
  }
  CHECK(lines == 3);
  // Failed calls: one red tick per interval that had one.
  std::size_t ticks = 0;
  for (std::size_t at = page.find("failed</title>"); at != std::string::npos;
       at = page.find("failed</title>", at + 1)) {
    ++ticks;
  }
  CHECK(ticks == 5);
}

}  // namespace
