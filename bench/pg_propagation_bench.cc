// Propagation between two PostgreSQL-backed replicas (issue #14, figure 3):
// how long after a change is acknowledged on replica A it is visible to
// readers of replica B.
//
//   pg_propagation_bench --postgres=URI --rate=5000 --duration=10s
//
// Opens two PostgresStockMutations on one database in this process (two
// replicas, each with its own connection pool and LISTEN connection, as two
// inventory_server processes would have), and on A calls Set (one durable
// transaction, synchronous_commit on) on an open loop: `rate` writes per
// second on a fixed schedule, over `products` products in turn. Write i sets
// its product to quantity i, so every write is a distinct value. A
// StockWatcher on B's cache (the store B's GetProductAvailability and Watch
// read) timestamps each value when B applies it.
//
// Measured, per write: from A's acknowledgement (the Set callback, after
// COMMIT returned; the moment a client of A would get its answer) to the
// moment B's cache holds the value (B's NOTIFY listener applied it). A value
// B sees before A's callback ran counts as 0. Also reported: from the
// scheduled start of the write to visible on B, and A's commit latency. One
// line of JSON on stdout, with the writes A refused or failed (a full queue
// is RESOURCE_EXHAUSTED: the offered rate is past what A's pool commits); the
// exit status is 1 if a value A acknowledged never became visible on B.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "domain/inventory/inventory_store.h"
#include "domain/inventory/stock_watcher.h"
#include "storage/postgres/postgres_stock_mutations.h"

ABSL_FLAG(std::string, postgres, "", "libpq URI of the database both replicas use.");
ABSL_FLAG(double, rate, 5000, "Writes per second on replica A (open loop).");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Measured window.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "Writes before the window, not recorded.");
ABSL_FLAG(int, products, 1000, "Products written in turn (prop-00000000 ...).");
ABSL_FLAG(int, pool_size, 4, "Connections of each replica's pool (--postgres_pool_size).");
ABSL_FLAG(int, queue_limit, 256, "Each replica's --postgres_queue_limit.");
ABSL_FLAG(absl::Duration, settle, absl::Seconds(5),
          "How long to wait after the last write for B to see every value.");

namespace {

using domain::inventory::Availability;
using domain::inventory::CatalogEntry;
using storage::postgres::PostgresOptions;
using storage::postgres::PostgresStockMutations;

std::int64_t NowNs() { return absl::GetCurrentTimeNanos(); }

struct Write {
  std::atomic<std::int64_t> scheduled_ns{0};
  std::atomic<std::int64_t> acked_ns{0};
  std::atomic<std::int64_t> visible_ns{0};
  std::atomic<int> failed{0};
};

// Timestamps on B. Value i is write i; 0 is the catalog's and ignored.
class VisibleOnB final : public domain::inventory::StockWatcher {
 public:
  explicit VisibleOnB(std::vector<Write>* writes) : writes_(writes) {}
  void OnStockChanged(absl::string_view, Availability availability) override {
    const std::int64_t i = availability.quantity;
    if (i <= 0 || i >= static_cast<std::int64_t>(writes_->size())) return;
    std::int64_t expected = 0;
    (*writes_)[i].visible_ns.compare_exchange_strong(expected, NowNs());
  }

 private:
  std::vector<Write>* writes_;
};

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t index =
      std::min(values.size() - 1, static_cast<std::size_t>(p * values.size()));
  return values[index];
}

std::string Summary(const char* name, const std::vector<double>& ms) {
  return absl::StrFormat(
      "\"%s\": {\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, "
      "\"max_ms\": %.3f}",
      name, Percentile(ms, 0.5), Percentile(ms, 0.9), Percentile(ms, 0.99), Percentile(ms, 0.999),
      ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()));
}

int Run() {
  const std::string uri = absl::GetFlag(FLAGS_postgres);
  const double rate = absl::GetFlag(FLAGS_rate);
  const int products = absl::GetFlag(FLAGS_products);
  if (uri.empty() || rate <= 0 || products < 1) {
    std::fprintf(stderr, "--postgres, --rate > 0 and --products >= 1 are required\n");
    return 2;
  }
  std::vector<CatalogEntry> catalog;
  std::vector<std::string> ids;
  for (int p = 0; p < products; ++p) {
    ids.push_back(absl::StrFormat("prop-%08d", p));
    catalog.push_back({ids.back(), 0});
  }
  PostgresOptions options;
  options.uri = uri;
  options.pool_size = absl::GetFlag(FLAGS_pool_size);
  options.queue_limit = absl::GetFlag(FLAGS_queue_limit);
  auto a = PostgresStockMutations::Open(options, catalog);
  if (!a.ok()) {
    std::fprintf(stderr, "replica A: %s\n", a.status().ToString().c_str());
    return 1;
  }
  auto b = PostgresStockMutations::Open(options, catalog);
  if (!b.ok()) {
    std::fprintf(stderr, "replica B: %s\n", b.status().ToString().c_str());
    return 1;
  }
  // The products may already hold values of an earlier run: start every
  // product at 0 through A and wait until B shows it.
  for (const std::string& id : ids) {
    absl::Notification done;
    (*a)->Set(id, 0, absl::Now() + absl::Seconds(30), [&](absl::Status) { done.Notify(); });
    done.WaitForNotification();
  }
  for (const std::string& id : ids) {
    while ((*b)->cache().Get(id).quantity != 0) absl::SleepFor(absl::Milliseconds(1));
  }

  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const std::int64_t warmup_writes =
      static_cast<std::int64_t>(rate * absl::ToDoubleSeconds(warmup));
  const std::int64_t total =
      warmup_writes + static_cast<std::int64_t>(rate * absl::ToDoubleSeconds(duration));
  std::vector<Write> writes(total + 1);  // index 0 unused
  VisibleOnB watcher(&writes);
  (*b)->cache().Watch(ids, &watcher);

  std::atomic<std::int64_t> outstanding{0};
  const std::int64_t start_ns = NowNs();
  const double interval_ns = 1e9 / rate;
  std::int64_t late = 0;  // writes started more than 1 ms after their schedule
  for (std::int64_t i = 1; i <= total; ++i) {
    const std::int64_t due = start_ns + static_cast<std::int64_t>((i - 1) * interval_ns);
    for (std::int64_t now = NowNs(); now < due; now = NowNs()) {
      if (due - now > 200'000) absl::SleepFor(absl::Nanoseconds(due - now - 100'000));
    }
    if (NowNs() - due > 1'000'000) ++late;
    Write& w = writes[i];
    w.scheduled_ns = due;
    ++outstanding;
    (*a)->Set(ids[(i - 1) % products], static_cast<std::int32_t>(i), absl::Now() + absl::Seconds(5),
              [&w, &outstanding](absl::Status status) {
                w.acked_ns = NowNs();
                if (!status.ok()) w.failed = 1;
                --outstanding;
              });
  }
  const std::int64_t end_ns = NowNs();
  const absl::Time settle_until = absl::Now() + absl::GetFlag(FLAGS_settle);
  while (outstanding.load() > 0 && absl::Now() < settle_until)
    absl::SleepFor(absl::Milliseconds(1));
  auto unseen = [&] {
    std::int64_t n = 0;
    for (std::int64_t i = warmup_writes + 1; i <= total; ++i) {
      // A value overwritten on its product before B applied it is never
      // shown on B (the newer version wins): only the last write of each
      // product must be seen; an earlier one counts when seen.
      const bool last_of_product = i + products > total;
      if (writes[i].failed == 0 && last_of_product && writes[i].visible_ns == 0) ++n;
    }
    return n;
  };
  while (unseen() > 0 && absl::Now() < settle_until) absl::SleepFor(absl::Milliseconds(1));
  (*b)->cache().Unwatch(ids, &watcher);

  std::vector<double> ack_to_visible, scheduled_to_visible, commit;
  std::int64_t failed = 0, overwritten = 0;
  for (std::int64_t i = warmup_writes + 1; i <= total; ++i) {
    const Write& w = writes[i];
    if (w.failed || w.acked_ns == 0) {
      ++failed;
      continue;
    }
    commit.push_back((w.acked_ns - w.scheduled_ns) / 1e6);
    if (w.visible_ns == 0) {
      ++overwritten;
      continue;
    }
    ack_to_visible.push_back(std::max<std::int64_t>(0, w.visible_ns - w.acked_ns) / 1e6);
    scheduled_to_visible.push_back((w.visible_ns - w.scheduled_ns) / 1e6);
  }
  const std::int64_t never = unseen();
  const std::int64_t measured = total - warmup_writes;
  std::printf(
      "{\"rate\": %.0f, \"achieved_rate\": %.1f, \"writes\": %lld, \"failed\": %lld, "
      "\"acked_rate\": %.1f, \"late_starts\": %lld, \"visible\": %zu, \"overwritten_before_seen\": "
      "%lld, "
      "\"never_seen\": %lld, \"products\": %d, \"pool_size\": %d, %s, %s, %s}\n",
      rate, total / ((end_ns - start_ns) / 1e9), static_cast<long long>(measured),
      static_cast<long long>(failed), (measured - failed) / absl::ToDoubleSeconds(duration),
      static_cast<long long>(late), ack_to_visible.size(),
      static_cast<long long>(overwritten - never), static_cast<long long>(never), products,
      options.pool_size, Summary("ack_to_visible", ack_to_visible).c_str(),
      Summary("scheduled_to_visible", scheduled_to_visible).c_str(),
      Summary("commit", commit).c_str());
  return never == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return Run();
}
