// The load tool's HTML report (FormatHtmlReport in load_client.h) and the
// timeline it charts. The page is static: tables and inline SVG, no script,
// no style sheet or font from anywhere, so it renders the same offline.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "bench/load_client.h"

namespace bench {

namespace {

// Coarse bucket of `ns`: 4 per power of two of (ns / 1024).
int CoarseIndex(std::uint64_t ns) {
  const std::uint64_t v = ns >> 10;
  if (v == 0) return 0;
  const int msb = 63 - __builtin_clzll(v);
  const int frac =
      msb >= 2 ? static_cast<int>((v >> (msb - 2)) & 3) : static_cast<int>((v << (2 - msb)) & 3);
  return std::min(TimelineBucket::kCoarse - 1, 4 * msb + frac);
}

// The largest value of coarse bucket `i`.
std::uint64_t CoarseUpper(int i) {
  const int msb = i / 4;
  const int frac = i % 4;
  return ((static_cast<std::uint64_t>(4 + frac + 1) << msb) / 4) * 1024;
}

std::string Escape(absl::string_view text) {
  return absl::StrReplaceAll(text,
                             {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

std::string Us(double ns) { return absl::StrFormat("%.1f", ns / 1e3); }

// A latency axis value (us) in short form: 850, 1.2k, 35k.
std::string AxisUs(double us) {
  if (us >= 1e6) return absl::StrFormat("%.3gs", us / 1e6);
  if (us >= 1e3) return absl::StrFormat("%.3gms", us / 1e3);
  return absl::StrFormat("%.3gus", us);
}

constexpr int kWidth = 860, kHeight = 300, kLeft = 70, kRight = 20, kTop = 20, kBottom = 40;

// Log-scaled y from `low` to `high` (us, both > 0).
struct LogAxis {
  double low, high;
  double Y(double us) const {
    const double v = std::clamp(us, low, high);
    const double f = std::log(v / low) / std::log(high / low);
    return kTop + (1 - f) * (kHeight - kTop - kBottom);
  }
};

std::string YTicks(const LogAxis& axis) {
  std::string out;
  for (double tick = std::pow(10, std::floor(std::log10(axis.low))); tick <= axis.high * 1.0001;
       tick *= 10) {
    if (tick < axis.low * 0.9999) continue;
    const double y = axis.Y(tick);
    absl::StrAppend(
        &out, absl::StrFormat("<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#ddd'/>"
                              "<text x='%d' y='%.1f' text-anchor='end' font-size='11'>%s</text>\n",
                              kLeft, kWidth - kRight, y, y, kLeft - 6, y + 4, AxisUs(tick)));
  }
  return out;
}

std::string LatencyOverTime(const LoadResult& r) {
  const std::vector<TimelineBucket>& t = r.timeline;
  if (t.empty()) return "<p>No measured call.</p>\n";
  double low = 1e300, high = 0;
  for (const TimelineBucket& b : t) {
    if (b.calls == 0) continue;
    low = std::min(low, static_cast<double>(b.Percentile(0.5)) / 1e3);
    high = std::max(high, static_cast<double>(b.max_ns) / 1e3);
  }
  low = std::max(1.0, std::pow(10, std::floor(std::log10(std::max(low, 1.0)))));
  high = std::max(high * 1.1, low * 10);
  const LogAxis axis{low, high};
  const double seconds = absl::ToDoubleSeconds(r.timeline_interval);
  const double span = seconds * static_cast<double>(t.size());
  auto x = [&](std::size_t i) {
    return kLeft + (static_cast<double>(i) + 0.5) / static_cast<double>(t.size()) *
                       (kWidth - kLeft - kRight);
  };
  std::string out = absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' class='chart' "
      "role='img' aria-label='latency over time'>\n<rect width='100%%' height='100%%' "
      "fill='white'/>\n",
      kWidth, kHeight);
  absl::StrAppend(&out, YTicks(axis));
  for (int k = 0; k <= 5; ++k) {
    const double xs = kLeft + k / 5.0 * (kWidth - kLeft - kRight);
    absl::StrAppend(&out, absl::StrFormat("<text x='%.1f' y='%d' text-anchor='middle' "
                                          "font-size='11'>%.3gs</text>\n",
                                          xs, kHeight - kBottom + 16, span * k / 5.0));
  }
  absl::StrAppend(&out, absl::StrFormat("<text x='%d' y='%d' text-anchor='middle' "
                                        "font-size='12'>time into the measured window "
                                        "(calls by start)</text>\n",
                                        (kLeft + kWidth - kRight) / 2, kHeight - 6));
  // max last and dashed: with few calls per interval p99 is the max, and
  // the max line must still show.
  struct Series {
    const char* name;
    const char* color;
    double q;
    const char* dash;
  };
  const Series series[] = {{"p50", "#1f77b4", 0.5, "none"},
                           {"p99", "#ff7f0e", 0.99, "none"},
                           {"max", "#d62728", 1.0, "5 4"}};
  int legend = 0;
  for (const Series& s : series) {
    std::string points;
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (t[i].calls == 0) continue;
      const double ns =
          s.q >= 1.0 ? static_cast<double>(t[i].max_ns) : static_cast<double>(t[i].Percentile(s.q));
      absl::StrAppend(&points, absl::StrFormat("%.1f,%.1f ", x(i), axis.Y(ns / 1e3)));
    }
    absl::StrAppend(&out, absl::StrFormat("<polyline fill='none' stroke='%s' stroke-width='2' "
                                          "stroke-dasharray='%s' points='%s'/>\n",
                                          s.color, s.dash, points));
    absl::StrAppend(&out, absl::StrFormat("<rect x='%d' y='%d' width='14' height='4' fill='%s'/>"
                                          "<text x='%d' y='%d' font-size='12'>%s</text>\n",
                                          kLeft + 10 + legend * 70, kTop - 12, s.color,
                                          kLeft + 28 + legend * 70, kTop - 7, s.name));
    ++legend;
  }
  // Failed calls per interval, as red ticks along the bottom.
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].failed == 0) continue;
    absl::StrAppend(&out, absl::StrFormat("<rect x='%.1f' y='%d' width='3' height='6' "
                                          "fill='#d62728'><title>%d failed</title></rect>\n",
                                          x(i) - 1.5, kHeight - kBottom - 6, t[i].failed));
  }
  absl::StrAppend(&out, absl::StrFormat("<line x1='%d' x2='%d' y1='%d' y2='%d' stroke='#333'/>"
                                        "<line x1='%d' x2='%d' y1='%d' y2='%d' stroke='#333'/>\n",
                                        kLeft, kWidth - kRight, kHeight - kBottom,
                                        kHeight - kBottom, kLeft, kLeft, kTop, kHeight - kBottom));
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

std::string Distribution(const LoadResult& r) {
  const LatencyHistogram& h = r.latency_ns;
  if (h.count() == 0) return "";
  constexpr int kBins = 40;
  const double low = std::max(static_cast<double>(h.min()), 1000.0);
  const double high = std::max(static_cast<double>(h.max()), low * 1.01);
  std::vector<std::pair<double, std::uint64_t>> bins;
  std::uint64_t below = 0, fullest = 1;
  for (int i = 1; i <= kBins; ++i) {
    const double edge =
        i == kBins ? high : low * std::pow(high / low, static_cast<double>(i) / kBins);
    const std::uint64_t at_or_below = h.CountAtOrBelow(static_cast<std::uint64_t>(edge));
    bins.emplace_back(edge, at_or_below - below);
    fullest = std::max(fullest, at_or_below - below);
    below = at_or_below;
  }
  std::string out = absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' class='chart' "
      "role='img' aria-label='latency distribution'>\n<rect width='100%%' height='100%%' "
      "fill='white'/>\n",
      kWidth, kHeight);
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  const double bar_w = plot_w / kBins;
  for (int i = 0; i < kBins; ++i) {
    const double hgt = plot_h * static_cast<double>(bins[i].second) / static_cast<double>(fullest);
    absl::StrAppend(&out, absl::StrFormat("<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' "
                                          "fill='#1f77b4'><title>&lt;= %s us: %d calls</title>"
                                          "</rect>\n",
                                          kLeft + i * bar_w + 1, kTop + plot_h - hgt, bar_w - 2,
                                          hgt, Us(bins[i].first), bins[i].second));
  }
  for (int k = 0; k <= 4; ++k) {
    const double edge = low * std::pow(high / low, k / 4.0);
    absl::StrAppend(&out, absl::StrFormat("<text x='%.1f' y='%d' text-anchor='middle' "
                                          "font-size='11'>%s</text>\n",
                                          kLeft + k / 4.0 * plot_w, kHeight - kBottom + 16,
                                          AxisUs(edge / 1e3)));
  }
  for (int k = 0; k <= 4; ++k) {
    const double y = kTop + plot_h * (1 - k / 4.0);
    absl::StrAppend(&out, absl::StrFormat("<text x='%d' y='%.1f' text-anchor='end' "
                                          "font-size='11'>%d</text>\n",
                                          kLeft - 6, y + 4,
                                          static_cast<std::uint64_t>(std::llround(
                                              static_cast<double>(fullest) * k / 4.0))));
  }
  absl::StrAppend(&out, absl::StrFormat("<text x='%d' y='%d' text-anchor='middle' "
                                        "font-size='12'>latency (log-spaced bins); bar height: "
                                        "calls</text>\n",
                                        (kLeft + kWidth - kRight) / 2, kHeight - 6));
  absl::StrAppend(&out,
                  absl::StrFormat("<line x1='%d' x2='%d' y1='%d' y2='%d' stroke='#333'/>"
                                  "</svg>\n",
                                  kLeft, kWidth - kRight, kHeight - kBottom, kHeight - kBottom));
  return out;
}

}  // namespace

void TimelineBucket::Record(std::uint64_t ns, bool ok) {
  ++calls;
  if (!ok) ++failed;
  max_ns = std::max(max_ns, ns);
  sum_ns += static_cast<double>(ns);
  ++coarse[CoarseIndex(ns)];
}

void TimelineBucket::Merge(const TimelineBucket& other) {
  calls += other.calls;
  failed += other.failed;
  max_ns = std::max(max_ns, other.max_ns);
  sum_ns += other.sum_ns;
  for (int i = 0; i < kCoarse; ++i) coarse[i] += other.coarse[i];
}

std::uint64_t TimelineBucket::Percentile(double q) const {
  if (calls == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(calls)));
  std::uint64_t seen = 0;
  for (int i = 0; i < kCoarse; ++i) {
    seen += coarse[i];
    if (seen >= std::max<std::uint64_t>(rank, 1)) {
      // The last bin also holds every larger value: its bound is the max.
      return i == kCoarse - 1 ? max_ns : std::min(CoarseUpper(i), max_ns);
    }
  }
  return max_ns;
}

std::string FormatHtmlReport(const std::vector<std::pair<LoadOptions, LoadResult>>& runs) {
  std::string out =
      "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
      "<title>inventory_bench load report</title>\n<style>body{font-family:sans-serif;"
      "margin:24px;color:#222;background:#fff}table{border-collapse:collapse;margin:8px 0}"
      "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f0f0f0}"
      "h2{margin-top:32px}.chart{border:1px solid #ccc;display:block;margin:8px 0}</style>"
      "</head><body>\n<h1>Load report</h1>\n";
  for (const auto& [options, r] : runs) {
    const std::string method =
        options.method == LoadMethod::kGeneric ? options.call_name : InfoOf(options.method).name;
    const std::string shape =
        options.rate > 0 ? absl::StrFormat("open loop, offered %.0f calls/s", options.rate)
                         : absl::StrCat("closed loop, ", options.inflight, " calls in flight");
    absl::StrAppend(&out, "<h2>", Escape(method), " against ", Escape(options.target), ": ",
                    Escape(shape), "</h2>\n");
    const LatencyHistogram& h = r.latency_ns;
    absl::StrAppend(
        &out,
        "<table><tr><th>calls</th><th>OK</th><th>failed</th><th>OK calls/s</th><th>p50 us</th>"
        "<th>p90 us</th><th>p99 us</th><th>p99.9 us</th><th>max us</th><th>client CPU us per "
        "OK call</th></tr>\n<tr>",
        absl::StrFormat("<td>%d</td><td>%d</td><td>%d</td><td>%.0f</td>", r.completed(),
                        r.succeeded, r.failed, r.calls_per_second()),
        "<td>", Us(static_cast<double>(h.Percentile(0.5))), "</td><td>",
        Us(static_cast<double>(h.Percentile(0.9))), "</td><td>",
        Us(static_cast<double>(h.Percentile(0.99))), "</td><td>",
        Us(static_cast<double>(h.Percentile(0.999))), "</td><td>", Us(static_cast<double>(h.max())),
        "</td><td>",
        r.succeeded > 0
            ? absl::StrFormat("%.2f", 1e6 * r.client_cpu_seconds / static_cast<double>(r.succeeded))
            : std::string("-"),
        "</td></tr></table>\n");
    std::string codes;
    for (int outcome = 0; outcome < kOutcomes; ++outcome) {
      if (r.by_outcome[outcome] == 0) continue;
      absl::StrAppend(&codes, "<tr><td>", OutcomeName(outcome), "</td><td>", r.by_outcome[outcome],
                      "</td><td style='text-align:left'>", Escape(r.first_message[outcome]),
                      "</td></tr>\n");
    }
    if (!codes.empty()) {
      absl::StrAppend(&out, "<table><tr><th>code</th><th>calls</th><th>first message</th></tr>\n",
                      codes, "</table>\n");
    }
    if (r.server_streaming) {
      absl::StrAppend(
          &out, absl::StrFormat("<p>Server-streaming: %d messages, %.2f per call; first message "
                                "p50 %s us, p99 %s us.</p>\n",
                                r.messages, r.messages_per_call.mean(),
                                Us(static_cast<double>(r.first_message_ns.Percentile(0.5))),
                                Us(static_cast<double>(r.first_message_ns.Percentile(0.99)))));
    }
    absl::StrAppend(&out, "<h3>Latency over time</h3>\n", LatencyOverTime(r),
                    "<h3>Latency distribution</h3>\n", Distribution(r));
  }
  absl::StrAppend(&out, "</body></html>\n");
  return out;
}

}  // namespace bench
