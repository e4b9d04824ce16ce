// libFuzzer target: arbitrary bytes as InventoryService requests. Each
// operation's payload is parsed exactly as the engine parses a request
// (engine::internal::ParseRequestMessage) and, when it parses, run through
// the handlers' own request code (server/inventory/inventory_requests.h)
// against an in-memory InventoryStore. Every answer is checked against the
// contract (inventory_store.h, docs/api.md) using a model of what the store
// must hold: stock and orders.
//
// Invariants checked, besides never crashing under ASan and UBSan:
//   * each method answers only its documented codes, with the documented
//     message prefixes ("order_id", "lines[i]: ", "product_ids[i]: ");
//   * stock is never negative and is_available is always quantity > 0;
//   * stock is what the contract says: every product an operation named,
//     right after it, and every product at the end of the input (a rejected
//     reservation, release or set changes nothing; a replayed order reserves
//     nothing more and returns the original result);
//   * an order id used by a rejected reservation stays unused;
//   * a reservation released at once restores every line's stock exactly;
//   * watchers get the current value at once, then every change, and
//     nothing after they are unwatched;
//   * the journal gets every change and nothing else: a store rebuilt from
//     what it was given (Load, RestoreOrders, as a restart does) holds the
//     same stock and orders and answers releases the same;
//   * once the journal stops accepting, every mutation that passes
//     validation is UNAVAILABLE and changes nothing.
//
// Operation kinds (the first byte of each record, fuzz_support.h):
//   0 GetProductAvailability   1 BatchGetProductAvailability
//   2 ReserveStock             3 ReleaseReservation
//   4 SetStock                 5 WatchProductAvailability (the ids are then
//                                watched until the input ends)
//   6 ReserveStock, then ReleaseReservation of the same order at once
//   7 the journal stops accepting, for the rest of the input (as after a
//     failed write; the payload is ignored)
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "domain/inventory/inventory_store.h"
#include "domain/inventory/limits.h"
#include "domain/inventory/product_id.h"
#include "domain/inventory/stock_journal.h"
#include "fuzz/fuzz_support.h"
#include "inventory.pb.h"
#include "server/inventory/inventory_requests.h"

namespace {

using domain::inventory::Availability;
using domain::inventory::CatalogEntry;
using domain::inventory::InventoryStore;
using domain::inventory::kMaxBatchIds;
using domain::inventory::kMaxOrderLines;
using domain::inventory::kMaxWatchIds;
using domain::inventory::OrderState;
using domain::inventory::StockJournal;
using domain::inventory::StockMutation;
using domain::inventory::StockWatcher;
using domain::inventory::ValidateProductId;
using fuzz::CodeName;
using fuzz::Operation;
using ::inventory::ProductAvailability;
using StatusCode = absl::StatusCode;

enum Kind : int {
  kGet,
  kBatchGet,
  kReserve,
  kRelease,
  kSetStock,
  kWatch,
  kReserveThenRelease,
  kFailJournal,
  kKinds,
};

constexpr std::int32_t kMaxQuantity = std::numeric_limits<std::int32_t>::max();
// Few shards, so lines of one order often share a stock shard's lock.
constexpr int kShards = 8;
// Watches kept open at once; a further one ends the oldest.
constexpr std::size_t kMaxOpenWatches = 4;

// The store every input starts from (fuzz/make_corpus.py uses these ids).
const std::vector<CatalogEntry>& InitialStock() {
  static const auto* stock = new std::vector<CatalogEntry>{
      {"p0", 0},
      {"p1", 1},
      {"p2", 5},
      {"p3", 10},
      {"p4", 100},
      {"p5", 1000},
      {"p6", kMaxQuantity - 1},
      {"p7", kMaxQuantity},
  };
  return *stock;
}

bool SameAvailability(const ProductAvailability& got, const std::string& id, std::int32_t want) {
  return got.product_id() == id && got.quantity() == want && got.is_available() == (want > 0);
}

// What the contract says the store holds.
struct Model {
  struct Order {
    std::vector<std::pair<std::string, std::int32_t>> lines;  // request order
    std::vector<std::int32_t> remaining;  // each line's quantity right after the reservation
    bool released = false;
  };
  absl::flat_hash_map<std::string, std::int32_t> stock;
  absl::flat_hash_map<std::string, Order> orders;

  std::int32_t StockOf(const std::string& id) const {
    auto it = stock.find(id);
    return it == stock.end() ? 0 : it->second;
  }
};

// One open watch: what its watcher was told, per product.
class RecordingWatcher final : public StockWatcher {
 public:
  explicit RecordingWatcher(std::vector<std::string> ids) : ids_(std::move(ids)) {}

  void OnStockChanged(absl::string_view product_id, Availability availability) override {
    FUZZ_CHECK(!unwatched_, "a watcher was called after Unwatch, for '", product_id, "'");
    FUZZ_CHECK(std::find(ids_.begin(), ids_.end(), product_id) != ids_.end(),
               "a watcher was told about '", product_id, "', which it does not watch");
    FUZZ_CHECK(
        availability.quantity >= 0 && availability.is_available == (availability.quantity > 0),
        "a watcher was told quantity ", availability.quantity, " available ",
        availability.is_available);
    latest_[std::string(product_id)] = availability;
    ++calls_;
  }

  const std::vector<std::string>& ids() const { return ids_; }
  const absl::flat_hash_map<std::string, Availability>& latest() const { return latest_; }
  int calls() const { return calls_; }
  void MarkUnwatched() { unwatched_ = true; }

 private:
  const std::vector<std::string> ids_;
  absl::flat_hash_map<std::string, Availability> latest_;
  int calls_ = 0;
  bool unwatched_ = false;
};

// Keeps the latest level of each product and state of each order it was
// given, as a durable journal would store them. Durable at once.
class RecordingJournal final : public StockJournal {
 public:
  void Append(StockMutation mutation) override {
    FUZZ_CHECK(accepting_, "a mutation was appended after the journal stopped accepting");
    for (auto& level : mutation.levels) levels_[level.product_id] = level.quantity;
    if (mutation.order.has_value()) orders_[mutation.order->order_id] = *std::move(mutation.order);
  }
  void WhenDurable(absl::AnyInvocable<void(absl::Status) &&> done) override {
    std::move(done)(absl::OkStatus());
  }
  absl::Status Accepting() const override {
    return accepting_ ? absl::OkStatus() : absl::UnavailableError("the journal failed (fuzz)");
  }

  void StopAccepting() { accepting_ = false; }
  bool accepting() const { return accepting_; }
  const absl::flat_hash_map<std::string, std::int32_t>& levels() const { return levels_; }
  const absl::flat_hash_map<std::string, OrderState>& orders() const { return orders_; }

 private:
  bool accepting_ = true;
  absl::flat_hash_map<std::string, std::int32_t> levels_;
  absl::flat_hash_map<std::string, OrderState> orders_;
};

class InventoryFuzz {
 public:
  InventoryFuzz() : store_(kShards, &journal_) {
    FUZZ_CHECK(store_.Load(InitialStock()).ok(), "the initial stock does not load");
    for (const CatalogEntry& entry : InitialStock())
      model_.stock[entry.product_id] = entry.quantity;
  }

  // The end of the input: the whole store against the model, a store
  // rebuilt from the journal against this one, and no watcher called once
  // unwatched.
  void Finish() {
    CheckEverything();
    CheckRebuiltFromJournal();
    for (auto& watch : open_watches_) Unwatch(*watch);
    // Changes after Unwatch must reach no watcher (checked by the watchers,
    // still alive here). Load changes stock without the journal.
    std::vector<CatalogEntry> all;
    for (const auto& [id, quantity] : model_.stock) all.push_back({id, quantity});
    FUZZ_CHECK(store_.Load(all).ok(), "reloading the model's stock");
  }

  void Run(const Operation& operation) {
    touched_.clear();
    switch (operation.kind) {
      case kGet:
        Get(operation);
        break;
      case kBatchGet:
        BatchGet(operation);
        break;
      case kReserve: {
        ::inventory::ReserveStockRequest request;
        if (fuzz::ParseAsEngine(operation, request).ok()) Reserve(request);
        break;
      }
      case kRelease: {
        ::inventory::ReleaseReservationRequest request;
        if (fuzz::ParseAsEngine(operation, request).ok()) Release(request);
        break;
      }
      case kSetStock:
        SetStock(operation);
        break;
      case kWatch:
        Watch(operation);
        break;
      case kReserveThenRelease:
        ReserveThenRelease(operation);
        break;
      case kFailJournal:
        journal_.StopAccepting();
        break;
    }
    CheckTouched();
  }

 private:
  void Get(const Operation& operation) {
    ::inventory::GetProductAvailabilityRequest request;
    if (!fuzz::ParseAsEngine(operation, request).ok()) return;
    ::inventory::GetProductAvailabilityResponse response;
    absl::Status status =
        server::inventory::AnswerGetProductAvailability(store_, request, response);
    const std::string& id = request.product_id();
    if (!ValidateProductId(id).ok()) {
      FUZZ_CHECK(status.code() == StatusCode::kInvalidArgument,
                 "Get of a bad id: ", status.ToString());
      return;
    }
    FUZZ_CHECK(status.ok(), "Get '", id, "': ", status.ToString());
    const std::int32_t want = model_.StockOf(id);
    FUZZ_CHECK(response.quantity() == want && response.is_available() == (want > 0), "Get '", id,
               "': quantity ", response.quantity(), " available ", response.is_available(),
               ", the model says ", want);
  }

  void BatchGet(const Operation& operation) {
    ::inventory::BatchGetProductAvailabilityRequest request;
    if (!fuzz::ParseAsEngine(operation, request).ok()) return;
    ::inventory::BatchGetProductAvailabilityResponse response;
    absl::Status status =
        server::inventory::AnswerBatchGetProductAvailability(store_, request, response);
    if (request.product_ids_size() > kMaxBatchIds) {
      FUZZ_CHECK(status.code() == StatusCode::kInvalidArgument, request.product_ids_size(),
                 " ids: ", status.ToString());
      return;
    }
    for (int i = 0; i < request.product_ids_size(); ++i) {
      if (!ValidateProductId(request.product_ids(i)).ok()) {
        FUZZ_CHECK(status.code() == StatusCode::kInvalidArgument &&
                       absl::StartsWith(status.message(), absl::StrCat("product_ids[", i, "]: ")),
                   "batch with bad id ", i, ": ", status.ToString());
        return;
      }
    }
    FUZZ_CHECK(status.ok(), "batch: ", status.ToString());
    FUZZ_CHECK(response.items_size() == request.product_ids_size(), response.items_size(),
               " items for ", request.product_ids_size(), " ids");
    for (int i = 0; i < request.product_ids_size(); ++i) {
      const std::string& id = request.product_ids(i);
      FUZZ_CHECK(SameAvailability(response.items(i), id, model_.StockOf(id)), "batch item ", i,
                 " '", response.items(i).product_id(), "' quantity ", response.items(i).quantity(),
                 ", the model says '", id, "' ", model_.StockOf(id));
    }
  }

  // Checks a ReserveStock answer against the contract and applies it to the
  // model. Returns whether it reserved a new order.
  bool Reserve(const ::inventory::ReserveStockRequest& request) {
    ::inventory::ReserveStockResponse response;
    absl::Status status = server::inventory::ApplyReserveStock(store_, request, response, "");
    const std::string& order_id = request.order_id();
    for (const auto& line : request.lines()) touched_.push_back(line.product_id());
    const auto expect = [&](StatusCode code, absl::string_view prefix, absl::string_view why) {
      FUZZ_CHECK(status.code() == code && absl::StartsWith(status.message(), prefix),
                 "ReserveStock '", order_id, "' (", why, "): expected ",
                 absl::StatusCodeToString(code), " starting '", prefix, "', got ",
                 status.ToString());
    };

    // Well formed? (ApplyReserveStock refuses too many lines before the
    // store's checks.)
    if (request.lines_size() > static_cast<int>(kMaxOrderLines)) {
      expect(StatusCode::kInvalidArgument, "order has", "too many lines");
      if (ValidateProductId(order_id).ok()) ExpectUnused(order_id);
      return false;
    }
    if (!ValidateProductId(order_id).ok()) {
      expect(StatusCode::kInvalidArgument, "order_id", "bad order id");
      return false;
    }
    if (request.lines_size() == 0) {
      expect(StatusCode::kInvalidArgument, "order has no lines", "no lines");
      ExpectUnused(order_id);
      return false;
    }
    absl::flat_hash_set<std::string> named;
    for (int i = 0; i < request.lines_size(); ++i) {
      const auto& line = request.lines(i);
      if (!ValidateProductId(line.product_id()).ok() || line.quantity() <= 0 ||
          !named.insert(line.product_id()).second) {
        expect(StatusCode::kInvalidArgument, absl::StrCat("lines[", i, "]: "), "bad line");
        ExpectUnused(order_id);
        return false;
      }
    }

    // Validation passed: a journal that no longer accepts refuses it.
    if (!journal_.accepting()) {
      expect(StatusCode::kUnavailable, "", "journal failed");
      return false;
    }

    // A known order: replayed or refused, nothing reserved.
    if (auto known = model_.orders.find(order_id); known != model_.orders.end()) {
      const Model::Order& order = known->second;
      absl::flat_hash_map<std::string, std::int32_t> original_remaining;
      absl::flat_hash_map<std::string, std::int32_t> original_quantity;
      for (std::size_t i = 0; i < order.lines.size(); ++i) {
        original_quantity[order.lines[i].first] = order.lines[i].second;
        original_remaining[order.lines[i].first] = order.remaining[i];
      }
      bool same = order.lines.size() == static_cast<std::size_t>(request.lines_size());
      for (const auto& line : request.lines()) {
        auto it = original_quantity.find(line.product_id());
        same = same && it != original_quantity.end() && it->second == line.quantity();
      }
      if (!same) {
        expect(StatusCode::kAlreadyExists, "", "known order, other lines");
        return false;
      }
      FUZZ_CHECK(status.ok(), "replay of '", order_id, "': ", status.ToString());
      FUZZ_CHECK(response.remaining_size() == request.lines_size(), "replay of '", order_id,
                 "': ", response.remaining_size(), " items");
      for (int i = 0; i < request.lines_size(); ++i) {
        const std::string& id = request.lines(i).product_id();
        FUZZ_CHECK(SameAvailability(response.remaining(i), id, original_remaining[id]),
                   "replay of '", order_id, "' line ", i, ": '", response.remaining(i).product_id(),
                   "' ", response.remaining(i).quantity(), ", originally ", original_remaining[id]);
      }
      return false;
    }

    // A new order: unknown products first, then stock.
    for (int i = 0; i < request.lines_size(); ++i) {
      if (!model_.stock.contains(request.lines(i).product_id())) {
        expect(StatusCode::kInvalidArgument, absl::StrCat("lines[", i, "]: unknown product"),
               "unknown product");
        ExpectUnused(order_id);
        return false;
      }
    }
    for (int i = 0; i < request.lines_size(); ++i) {
      const auto& line = request.lines(i);
      if (model_.stock[line.product_id()] < line.quantity()) {
        expect(StatusCode::kFailedPrecondition, "", "short");
        FUZZ_CHECK(absl::StrContains(status.message(), absl::StrCat("(lines[", i, "])")),
                   "short order '", order_id, "' does not name line ", i, ": ", status.ToString());
        ExpectUnused(order_id);
        return false;
      }
    }
    FUZZ_CHECK(status.ok(), "ReserveStock '", order_id, "' with enough stock: ", status.ToString());
    FUZZ_CHECK(response.remaining_size() == request.lines_size(), "ReserveStock '", order_id,
               "': ", response.remaining_size(), " items for ", request.lines_size(), " lines");
    Model::Order order;
    for (int i = 0; i < request.lines_size(); ++i) {
      const auto& line = request.lines(i);
      std::int32_t& stock = model_.stock[line.product_id()];
      stock -= line.quantity();
      FUZZ_CHECK(SameAvailability(response.remaining(i), line.product_id(), stock),
                 "ReserveStock '", order_id, "' line ", i, ": '",
                 response.remaining(i).product_id(), "' ", response.remaining(i).quantity(),
                 ", the model says ", stock);
      order.lines.emplace_back(line.product_id(), line.quantity());
      order.remaining.push_back(stock);
    }
    model_.orders.emplace(order_id, std::move(order));
    return true;
  }

  // A rejected reservation must leave its (valid) order id unused.
  void ExpectUnused(const std::string& order_id) {
    if (model_.orders.contains(order_id) || !journal_.accepting()) return;
    ::inventory::ReleaseReservationRequest release;
    release.set_order_id(order_id);
    ::inventory::ReleaseReservationResponse response;
    absl::Status status = server::inventory::ApplyReleaseReservation(store_, release, response, "");
    FUZZ_CHECK(status.code() == StatusCode::kNotFound, "order '", order_id,
               "' was rejected but is not unused: release says ", status.ToString());
  }

  void Release(const ::inventory::ReleaseReservationRequest& request) {
    const std::string& order_id = request.order_id();
    ::inventory::ReleaseReservationResponse response;
    absl::Status status = server::inventory::ApplyReleaseReservation(store_, request, response, "");
    if (!ValidateProductId(order_id).ok()) {
      FUZZ_CHECK(status.code() == StatusCode::kInvalidArgument &&
                     absl::StartsWith(status.message(), "order_id"),
                 "release of a bad order id: ", status.ToString());
      return;
    }
    if (!journal_.accepting()) {
      FUZZ_CHECK(status.code() == StatusCode::kUnavailable, "release of '", order_id,
                 "' with the journal failed: ", status.ToString());
      return;
    }
    auto known = model_.orders.find(order_id);
    if (known == model_.orders.end()) {
      FUZZ_CHECK(status.code() == StatusCode::kNotFound, "release of unknown '", order_id,
                 "': ", status.ToString());
      return;
    }
    Model::Order& order = known->second;
    FUZZ_CHECK(status.ok(), "release of '", order_id, "': ", status.ToString());
    FUZZ_CHECK(response.remaining_size() == static_cast<int>(order.lines.size()), "release of '",
               order_id, "': ", response.remaining_size(), " items for ", order.lines.size(),
               " lines");
    for (std::size_t i = 0; i < order.lines.size(); ++i) {
      const auto& [id, quantity] = order.lines[i];
      touched_.push_back(id);
      std::int32_t& stock = model_.stock[id];
      if (!order.released) {
        stock = static_cast<std::int32_t>(
            std::min<std::int64_t>(std::int64_t{stock} + quantity, kMaxQuantity));
      }
      FUZZ_CHECK(SameAvailability(response.remaining(static_cast<int>(i)), id, stock),
                 "release of '", order_id, "' line ", i, ": ",
                 response.remaining(static_cast<int>(i)).quantity(), ", the model says ", stock);
    }
    order.released = true;
  }

  void SetStock(const Operation& operation) {
    ::inventory::SetStockRequest request;
    if (!fuzz::ParseAsEngine(operation, request).ok()) return;
    ::inventory::SetStockResponse response;
    absl::Status status = server::inventory::ApplySetStock(store_, request, response);
    const std::string& id = request.product_id();
    touched_.push_back(id);
    if (!ValidateProductId(id).ok() || request.quantity() < 0) {
      FUZZ_CHECK(status.code() == StatusCode::kInvalidArgument, "SetStock '", id, "' ",
                 request.quantity(), ": ", status.ToString());
      return;
    }
    if (!journal_.accepting()) {
      FUZZ_CHECK(status.code() == StatusCode::kUnavailable, "SetStock '", id,
                 "' with the journal failed: ", status.ToString());
      return;
    }
    FUZZ_CHECK(status.ok(), "SetStock '", id, "' ", request.quantity(), ": ", status.ToString());
    FUZZ_CHECK(SameAvailability(response.availability(), id, request.quantity()), "SetStock '", id,
               "' answered ", response.availability().quantity());
    model_.stock[id] = request.quantity();
  }

  void Watch(const Operation& operation) {
    ::inventory::WatchProductAvailabilityRequest request;
    if (!fuzz::ParseAsEngine(operation, request).ok()) return;
    absl::StatusOr<std::vector<std::string>> ids = server::inventory::WatchedProductIds(request);
    const int count = request.product_ids_size();
    if (count == 0 || count > kMaxWatchIds) {
      FUZZ_CHECK(ids.status().code() == StatusCode::kInvalidArgument, "Watch of ", count,
                 " ids: ", ids.status().ToString());
      return;
    }
    std::vector<std::string> unique;
    absl::flat_hash_set<std::string> seen;
    for (int i = 0; i < count; ++i) {
      const std::string& id = request.product_ids(i);
      if (!ValidateProductId(id).ok()) {
        FUZZ_CHECK(
            ids.status().code() == StatusCode::kInvalidArgument &&
                absl::StartsWith(ids.status().message(), absl::StrCat("product_ids[", i, "]: ")),
            "Watch with bad id ", i, ": ", ids.status().ToString());
        return;
      }
      if (seen.insert(id).second) unique.push_back(id);
    }
    FUZZ_CHECK(ids.ok(), "Watch: ", ids.status().ToString());
    FUZZ_CHECK(*ids == unique, "Watch ids: ", ids->size(), " instead of the ", unique.size(),
               " unique ids in request order");

    if (open_watches_.size() == kMaxOpenWatches) {
      Unwatch(*open_watches_.front());
      closed_watches_.push_back(std::move(open_watches_.front()));
      open_watches_.erase(open_watches_.begin());
    }
    auto watcher = std::make_unique<RecordingWatcher>(*std::move(ids));
    store_.Watch(watcher->ids(), watcher.get());
    FUZZ_CHECK(watcher->calls() == static_cast<int>(watcher->ids().size()), "Watch of ",
               watcher->ids().size(), " ids made ", watcher->calls(), " calls at once");
    CheckWatcher(*watcher, watcher->ids());
    open_watches_.push_back(std::move(watcher));
  }

  void Unwatch(RecordingWatcher& watcher) {
    store_.Unwatch(watcher.ids(), &watcher);
    watcher.MarkUnwatched();
  }

  void ReserveThenRelease(const Operation& operation) {
    ::inventory::ReserveStockRequest request;
    if (!fuzz::ParseAsEngine(operation, request).ok()) return;
    std::vector<std::pair<std::string, Availability>> before;
    for (const auto& line : request.lines()) {
      before.emplace_back(line.product_id(), store_.Get(line.product_id()));
    }
    if (!Reserve(request)) return;
    ::inventory::ReleaseReservationRequest release;
    release.set_order_id(request.order_id());
    Release(release);
    for (const auto& [id, availability] : before) {
      const Availability now = store_.Get(id);
      FUZZ_CHECK(
          now.quantity == availability.quantity && now.is_available == availability.is_available,
          "reserve then release of '", request.order_id(), "': '", id, "' went from ",
          availability.quantity, " to ", now.quantity);
    }
  }

  void CheckProduct(const std::string& id) const {
    const Availability got = store_.Get(id);
    const std::int32_t want = model_.StockOf(id);
    FUZZ_CHECK(got.quantity >= 0, "'", id, "' has negative stock ", got.quantity);
    FUZZ_CHECK(got.quantity == want && got.is_available == (want > 0), "'", id, "' has ",
               got.quantity, " (available ", got.is_available, "), the model says ", want);
  }

  void CheckWatcher(const RecordingWatcher& watcher, const std::vector<std::string>& ids) const {
    for (const std::string& id : ids) {
      auto it = watcher.latest().find(id);
      if (it == watcher.latest().end()) {
        FUZZ_CHECK(std::find(watcher.ids().begin(), watcher.ids().end(), id) == watcher.ids().end(),
                   "a watcher of '", id, "' was never told its value");
        continue;
      }
      const std::int32_t want = model_.StockOf(id);
      FUZZ_CHECK(it->second.quantity == want, "a watcher of '", id, "' last heard ",
                 it->second.quantity, ", the model says ", want);
    }
  }

  void CheckTouched() const {
    for (const std::string& id : touched_) {
      CheckProduct(id);
      // A product the journal was told about: its last level is current.
      if (auto level = journal_.levels().find(id); level != journal_.levels().end()) {
        FUZZ_CHECK(level->second == model_.StockOf(id), "the journal's last level of '", id,
                   "' is ", level->second, ", the model says ", model_.StockOf(id));
      }
    }
    for (const auto& watcher : open_watches_) CheckWatcher(*watcher, touched_);
  }

  // What a restart does: the stock as loaded plus the journal's levels
  // (Load), the journal's orders (RestoreOrders).
  void CheckRebuiltFromJournal() {
    std::vector<CatalogEntry> levels = InitialStock();
    for (const auto& [id, quantity] : journal_.levels()) levels.push_back({id, quantity});
    std::vector<OrderState> orders;
    for (const auto& [id, order] : journal_.orders()) orders.push_back(order);
    FUZZ_CHECK(journal_.orders().size() == model_.orders.size(), "the journal has ",
               journal_.orders().size(), " orders, the model ", model_.orders.size());
    InventoryStore rebuilt(kShards);
    FUZZ_CHECK(rebuilt.Load(levels).ok(), "the journal's levels do not load");
    absl::Status restored = rebuilt.RestoreOrders(orders);
    FUZZ_CHECK(restored.ok(), "the journal's orders do not restore: ", restored.ToString());
    FUZZ_CHECK(rebuilt.size() == model_.stock.size(), "the rebuilt store holds ", rebuilt.size(),
               " products, the model ", model_.stock.size());
    for (const auto& [id, quantity] : model_.stock) {
      FUZZ_CHECK(rebuilt.Get(id).quantity == quantity, "rebuilt, '", id, "' has ",
                 rebuilt.Get(id).quantity, ", the model says ", quantity);
    }
    for (const auto& [id, order] : model_.orders) {
      auto journaled = journal_.orders().find(id);
      FUZZ_CHECK(journaled != journal_.orders().end(), "order '", id, "' is not in the journal");
      const OrderState& state = journaled->second;
      FUZZ_CHECK(state.released == order.released && state.lines.size() == order.lines.size(),
                 "the journal's order '", id, "' has ", state.lines.size(), " lines, released ",
                 state.released);
      for (std::size_t i = 0; i < order.lines.size(); ++i) {
        FUZZ_CHECK(state.lines[i].product_id == order.lines[i].first &&
                       state.lines[i].quantity == order.lines[i].second &&
                       state.lines[i].remaining == order.remaining[i],
                   "the journal's order '", id, "' line ", i, " differs from the model");
      }
    }
    // Both stores answer every release alike (the original only while its
    // journal accepts; the rebuilt one has none).
    if (!journal_.accepting()) return;
    for (const auto& [id, order] : model_.orders) {
      ::inventory::ReleaseReservationRequest request;
      request.set_order_id(id);
      ::inventory::ReleaseReservationResponse here;
      ::inventory::ReleaseReservationResponse there;
      absl::Status status_here =
          server::inventory::ApplyReleaseReservation(store_, request, here, "");
      absl::Status status_there =
          server::inventory::ApplyReleaseReservation(rebuilt, request, there, "");
      FUZZ_CHECK(status_here.ok() && status_there.ok() &&
                     here.SerializeAsString() == there.SerializeAsString(),
                 "releasing '", id, "' answers ", status_here.ToString(), " here and ",
                 status_there.ToString(), " on the store rebuilt from the journal");
    }
  }

  void CheckEverything() const {
    FUZZ_CHECK(store_.size() == model_.stock.size(), "the store holds ", store_.size(),
               " products, the model ", model_.stock.size());
    for (const auto& [id, quantity] : model_.stock) {
      FUZZ_CHECK(quantity >= 0, "the model has negative stock for '", id, "'");
      CheckProduct(id);
    }
    for (const auto& watcher : open_watches_) CheckWatcher(*watcher, watcher->ids());
  }

  RecordingJournal journal_;  // outlives store_
  InventoryStore store_;
  Model model_;
  std::vector<std::string> touched_;  // products the current operation named
  std::vector<std::unique_ptr<RecordingWatcher>> open_watches_;
  std::vector<std::unique_ptr<RecordingWatcher>> closed_watches_;  // kept to catch late calls
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  InventoryFuzz fuzz;
  fuzz::OperationReader reader(data, size);
  Operation operation;
  while (reader.Next(kKinds, operation)) fuzz.Run(operation);
  fuzz.Finish();
  return 0;
}
