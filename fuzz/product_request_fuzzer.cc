// libFuzzer target: arbitrary bytes as ProductService requests. Each
// operation's payload is parsed exactly as the engine parses a request
// (engine::internal::ParseRequestMessage) and, when it parses, run through
// what the ProductService decides itself (server/product/product_requests.h):
// the catalog look-up, the pricing, the ReserveStock request a priced order
// sends and the status a failed reservation becomes. The batching client and
// the reserver are the only parts left out: the reservation goes straight to
// the InventoryService's own request code (inventory_requests.h) on an
// in-memory store, as the real inventory would run it.
//
// Invariants checked, besides never crashing under ASan and UBSan:
//   * GetProduct and PlaceOrder answer only their documented codes, the
//     first failing check winning as order_pricing.h orders them;
//   * a priced order's total is the exact sum of price x quantity (computed
//     in 128 bits here), and OUT_OF_RANGE exactly when that exceeds int64;
//   * the ReserveStock request carries the order's id and lines unchanged;
//   * an order the ProductService accepts is never refused by the
//     inventory's own validation except for a product it does not stock, and
//     what the caller then sees is FAILED_PRECONDITION or ALREADY_EXISTS;
//   * stock never goes negative; a refused or replayed order changes no
//     stock; a new order takes exactly its quantities.
//
// Operation kinds (the first byte of each record, fuzz_support.h):
//   0 GetProduct   1 PlaceOrder
//   2 ReleaseReservation on the inventory (so orders are retried after a
//     release too)
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/inventory/inventory_store.h"
#include "domain/inventory/limits.h"
#include "domain/inventory/product_id.h"
#include "domain/product/product_catalog.h"
#include "fuzz/fuzz_support.h"
#include "inventory.pb.h"
#include "product.pb.h"
#include "server/inventory/inventory_requests.h"
#include "server/product/product_requests.h"

namespace {

using domain::inventory::CatalogEntry;
using domain::inventory::InventoryStore;
using domain::inventory::kMaxOrderLines;
using domain::inventory::ValidateProductId;
using domain::product::ProductCatalog;
using domain::product::ProductInfo;
using fuzz::Operation;
using StatusCode = absl::StatusCode;

enum Kind : int { kGetProduct, kPlaceOrder, kRelease, kKinds };

constexpr std::int64_t kMaxCents = std::numeric_limits<std::int64_t>::max();
constexpr std::int32_t kMaxQuantity = std::numeric_limits<std::int32_t>::max();

// What the ProductService sells (fuzz/make_corpus.py uses these ids): free,
// cheap, dear, a quarter of int64 and int64 itself (so totals overflow), and
// p7, which the inventory does not stock.
const ProductCatalog& Catalog() {
  static const auto* catalog = [] {
    auto created = ProductCatalog::Create({
        {"p0", "Free sample", 0},
        {"p1", "Cheap", 199},
        {"p2", "Dear", 2500},
        {"p3", "A quarter of int64", kMaxCents / 4},
        {"p4", "All of int64", kMaxCents},
        {"p7", "Sold, never stocked", 100},
    });
    FUZZ_CHECK(created.ok(), created.status().ToString());
    return new ProductCatalog(*std::move(created));
  }();
  return *catalog;
}

// What the inventory holds at the start of each input; p8 is stocked but not
// sold.
const std::vector<CatalogEntry>& InitialStock() {
  static const auto* stock = new std::vector<CatalogEntry>{
      {"p0", 10}, {"p1", 100}, {"p2", 1}, {"p3", 5}, {"p4", kMaxQuantity}, {"p8", 50},
  };
  return *stock;
}

class ProductFuzz {
 public:
  ProductFuzz() : store_(8) {
    FUZZ_CHECK(store_.Load(InitialStock()).ok(), "the initial stock does not load");
    for (const CatalogEntry& entry : InitialStock()) stocked_.insert(entry.product_id);
  }

  void Run(const Operation& operation) {
    switch (operation.kind) {
      case kGetProduct:
        GetProduct(operation);
        break;
      case kPlaceOrder:
        PlaceOrder(operation);
        break;
      case kRelease:
        Release(operation);
        break;
    }
  }

 private:
  void GetProduct(const Operation& operation) {
    ::product::GetProductRequest request;
    if (!fuzz::ParseAsEngine(operation, request).ok()) return;
    absl::StatusOr<const ProductInfo*> found =
        server::product::FindRequestedProduct(Catalog(), request);
    const std::string& id = request.product_id();
    if (!ValidateProductId(id).ok()) {
      FUZZ_CHECK(found.status().code() == StatusCode::kInvalidArgument,
                 "GetProduct of a bad id: ", found.status().ToString());
      return;
    }
    const ProductInfo* info = Catalog().Find(id);
    if (info == nullptr) {
      FUZZ_CHECK(found.status().code() == StatusCode::kNotFound &&
                     absl::StrContains(found.status().message(), id),
                 "GetProduct of unsold '", id, "': ", found.status().ToString());
      return;
    }
    FUZZ_CHECK(found.ok() && *found == info, "GetProduct '", id, "': ", found.status().ToString());
  }

  // The contract of PricePlaceOrder and PriceOrder (product_requests.h,
  // order_pricing.h), first failure winning: the status and, if OK, the
  // exact total.
  struct ExpectedPrice {
    StatusCode code = StatusCode::kOk;
    std::string prefix;  // the message starts with it
    __int128 total = 0;
  };
  static ExpectedPrice PriceByContract(const ::product::PlaceOrderRequest& request) {
    // PricePlaceOrder refuses too many lines before PriceOrder's checks.
    if (request.lines_size() > static_cast<int>(kMaxOrderLines)) {
      return {StatusCode::kInvalidArgument, "order has"};
    }
    if (!ValidateProductId(request.order_id()).ok()) {
      return {StatusCode::kInvalidArgument, "order_id"};
    }
    if (request.lines_size() == 0) return {StatusCode::kInvalidArgument, "order has no lines"};
    ExpectedPrice expected;
    absl::flat_hash_set<std::string> named;
    for (int i = 0; i < request.lines_size(); ++i) {
      const auto& line = request.lines(i);
      const std::string where = absl::StrCat("lines[", i, "]: ");
      if (!ValidateProductId(line.product_id()).ok() || line.quantity() <= 0 ||
          !named.insert(line.product_id()).second) {
        return {StatusCode::kInvalidArgument, where};
      }
      const ProductInfo* info = Catalog().Find(line.product_id());
      if (info == nullptr) return {StatusCode::kNotFound, where};
      expected.total += static_cast<__int128>(info->price_cents) * line.quantity();
      if (expected.total > kMaxCents) return {StatusCode::kOutOfRange, ""};
    }
    return expected;
  }

  void PlaceOrder(const Operation& operation) {
    ::product::PlaceOrderRequest request;
    if (!fuzz::ParseAsEngine(operation, request).ok()) return;
    const std::string& order_id = request.order_id();
    auto priced = server::product::PricePlaceOrder(Catalog(), request);
    const ExpectedPrice expected = PriceByContract(request);
    FUZZ_CHECK(priced.status().code() == expected.code &&
                   absl::StartsWith(priced.status().message(), expected.prefix),
               "PlaceOrder '", order_id, "': expected ", absl::StatusCodeToString(expected.code),
               " starting '", expected.prefix, "', got ", priced.status().ToString());
    if (!priced.ok()) return;
    FUZZ_CHECK(priced->total_cents == expected.total, "PlaceOrder '", order_id, "': total ",
               priced->total_cents, ", the exact sum is ",
               static_cast<std::int64_t>(expected.total));

    // The reservation it sends, as the inventory runs it.
    const ::inventory::ReserveStockRequest reserve =
        server::product::ReserveStockRequestFor(request);
    FUZZ_CHECK(reserve.order_id() == order_id && reserve.lines_size() == request.lines_size(),
               "the ReserveStock request of '", order_id, "' has ", reserve.lines_size(),
               " lines for ", request.lines_size());
    absl::flat_hash_map<std::string, std::int32_t> lines;
    for (int i = 0; i < request.lines_size(); ++i) {
      FUZZ_CHECK(reserve.lines(i).product_id() == request.lines(i).product_id() &&
                     reserve.lines(i).quantity() == request.lines(i).quantity(),
                 "the ReserveStock request of '", order_id, "' changed line ", i);
      lines[request.lines(i).product_id()] = request.lines(i).quantity();
    }
    const absl::flat_hash_map<std::string, std::int32_t> before = Snapshot();
    ::inventory::ReserveStockResponse reserved;
    absl::Status status = server::inventory::ApplyReserveStock(store_, reserve, reserved, "");

    // What the inventory must say.
    auto known = orders_.find(order_id);
    bool new_order_ok = false;
    if (known != orders_.end()) {
      FUZZ_CHECK(
          status.code() == (known->second == lines ? StatusCode::kOk : StatusCode::kAlreadyExists),
          "a retried PlaceOrder '", order_id, "': ", status.ToString());
    } else {
      int unstocked = -1;
      int short_line = -1;
      for (int i = 0; i < reserve.lines_size(); ++i) {
        const auto& line = reserve.lines(i);
        if (unstocked < 0 && !stocked_.contains(line.product_id())) unstocked = i;
        auto it = before.find(line.product_id());
        if (short_line < 0 && it != before.end() && it->second < line.quantity()) short_line = i;
      }
      if (unstocked >= 0) {
        FUZZ_CHECK(status.code() == StatusCode::kInvalidArgument &&
                       absl::StartsWith(status.message(),
                                        absl::StrCat("lines[", unstocked, "]: unknown product")),
                   "PlaceOrder '", order_id, "' of an unstocked product: the inventory said ",
                   status.ToString());
      } else if (short_line >= 0) {
        FUZZ_CHECK(status.code() == StatusCode::kFailedPrecondition, "PlaceOrder '", order_id,
                   "' short on line ", short_line, ": ", status.ToString());
      } else {
        FUZZ_CHECK(status.ok(), "PlaceOrder '", order_id,
                   "' with enough stock: ", status.ToString());
        new_order_ok = true;
        orders_.emplace(order_id, lines);
      }
    }
    if (!status.ok()) {
      const absl::Status answer =
          server::product::PlaceOrderReserveFailure(status, absl::InfiniteFuture());
      FUZZ_CHECK(answer.code() == StatusCode::kFailedPrecondition ||
                     answer.code() == StatusCode::kAlreadyExists,
                 "PlaceOrder '", order_id, "' answers ", answer.ToString(), " for the inventory's ",
                 status.ToString());
    } else {
      FUZZ_CHECK(reserved.remaining_size() == reserve.lines_size(), "PlaceOrder '", order_id,
                 "': ", reserved.remaining_size(), " remaining for ", reserve.lines_size(),
                 " lines");
    }

    // Stock: a new order takes exactly its lines, anything else nothing.
    for (const auto& [id, was] : before) {
      auto line = lines.find(id);
      const std::int32_t want = new_order_ok && line != lines.end() ? was - line->second : was;
      const std::int32_t now = store_.Get(id).quantity;
      FUZZ_CHECK(now == want && now >= 0, "PlaceOrder '", order_id, "': '", id, "' went from ", was,
                 " to ", now, " instead of ", want, " (", status.ToString(), ")");
    }
  }

  void Release(const Operation& operation) {
    ::inventory::ReleaseReservationRequest request;
    if (!fuzz::ParseAsEngine(operation, request).ok()) return;
    ::inventory::ReleaseReservationResponse response;
    absl::Status status = server::inventory::ApplyReleaseReservation(store_, request, response, "");
    const StatusCode want = !ValidateProductId(request.order_id()).ok()
                                ? StatusCode::kInvalidArgument
                            : orders_.contains(request.order_id()) ? StatusCode::kOk
                                                                   : StatusCode::kNotFound;
    FUZZ_CHECK(status.code() == want, "release of '", request.order_id(), "': ", status.ToString());
    for (const auto& [id, quantity] : Snapshot()) {
      FUZZ_CHECK(quantity >= 0, "'", id, "' has negative stock ", quantity);
    }
  }

  absl::flat_hash_map<std::string, std::int32_t> Snapshot() const {
    absl::flat_hash_map<std::string, std::int32_t> stock;
    for (const std::string& id : stocked_) stock[id] = store_.Get(id).quantity;
    return stock;
  }

  InventoryStore store_;
  absl::flat_hash_set<std::string> stocked_;
  // Orders the inventory reserved: their lines, product -> quantity.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, std::int32_t>> orders_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ProductFuzz fuzz;
  fuzz::OperationReader reader(data, size);
  Operation operation;
  while (reader.Next(kKinds, operation)) fuzz.Run(operation);
  return 0;
}
