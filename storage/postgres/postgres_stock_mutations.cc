#include "storage/postgres/postgres_stock_mutations.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>
#include <variant>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "domain/inventory/order_checks.h"
#include "domain/inventory/product_id.h"

namespace storage::postgres {

using domain::inventory::CatalogEntry;
using domain::inventory::OrderLine;
using domain::inventory::OrderState;
using domain::inventory::ProductStock;
using domain::inventory::SetDone;
using domain::inventory::StockDone;
using domain::inventory::StockResult;

namespace {

// Any 64-bit key the application owns; only replicas of this service take it.
constexpr std::int64_t kMigrationLockKey = 0x696e76656e746f72;  // "inventor"
constexpr char kChannel[] = "inventory_stock";

// The schema, one entry per version, applied in order, each in its own
// transaction together with its row in inventory_schema_migrations. Never
// edit an applied entry: append a new one.
const char* const kMigrations[] = {
    // 1: stock with row versions, orders (the idempotency records) with
    // their lines, the seed marker, and the change notification.
    R"sql(
CREATE TABLE inventory_stock (
  product_id text COLLATE "C" PRIMARY KEY,
  quantity integer NOT NULL CHECK (quantity >= 0),
  version bigint NOT NULL
);
CREATE TABLE inventory_orders (
  order_id text COLLATE "C" PRIMARY KEY,
  owner text NOT NULL DEFAULT '',
  reserved_at timestamptz NOT NULL DEFAULT now(),
  released_at timestamptz
);
CREATE INDEX inventory_orders_released ON inventory_orders (released_at)
  WHERE released_at IS NOT NULL;
CREATE TABLE inventory_order_lines (
  order_id text COLLATE "C" NOT NULL REFERENCES inventory_orders ON DELETE CASCADE,
  line_index integer NOT NULL,
  product_id text COLLATE "C" NOT NULL,
  quantity integer NOT NULL CHECK (quantity > 0),
  remaining integer NOT NULL,
  PRIMARY KEY (order_id, line_index)
);
CREATE TABLE inventory_seed (seeded_at timestamptz NOT NULL, products integer NOT NULL);
CREATE FUNCTION inventory_stock_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('inventory_stock', NEW.version || ',' || NEW.quantity || ',' || NEW.product_id);
  RETURN NEW;
END $$;
CREATE TRIGGER inventory_stock_changed AFTER INSERT OR UPDATE ON inventory_stock
  FOR EACH ROW EXECUTE FUNCTION inventory_stock_notify();
)sql",
    // 2: one notification per statement instead of one per row, so a
    // replica applies all the rows of a multi-line order together. The
    // payload is "version,quantity,product_id" lines joined by newlines;
    // a statement whose lines exceed NOTIFY's 8000 bytes is split into
    // chunks that each start with a "#group,k,n" line, and the listener
    // applies the group once all n chunks arrived (a transaction's
    // notifications are delivered together, at commit). Transition tables
    // take one event per trigger, hence two triggers.
    R"sql(
DROP TRIGGER inventory_stock_changed ON inventory_stock;
CREATE FUNCTION inventory_stock_notify_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  line text;
  chunks text[] := '{}';
  payload text := '';
  grp text;
BEGIN
  FOR line IN SELECT c.version || ',' || c.quantity || ',' || c.product_id
      FROM inventory_stock_changed_rows c ORDER BY c.product_id LOOP
    IF payload <> '' AND octet_length(payload) + octet_length(line) > 7800 THEN
      chunks := chunks || payload;
      payload := '';
    END IF;
    payload := CASE WHEN payload = '' THEN line ELSE payload || E'
' || line END;
  END LOOP;
  IF payload = '' THEN RETURN NULL; END IF;
  chunks := chunks || payload;
  IF cardinality(chunks) = 1 THEN
    PERFORM pg_notify('inventory_stock', payload);
  ELSE
    grp := gen_random_uuid()::text;
    FOR i IN 1 .. cardinality(chunks) LOOP
      PERFORM pg_notify('inventory_stock',
                        '#' || grp || ',' || i || ',' || cardinality(chunks) || E'
' || chunks[i]);
    END LOOP;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER inventory_stock_changed AFTER UPDATE ON inventory_stock
  REFERENCING NEW TABLE AS inventory_stock_changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION inventory_stock_notify_rows();
CREATE TRIGGER inventory_stock_inserted AFTER INSERT ON inventory_stock
  REFERENCING NEW TABLE AS inventory_stock_changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION inventory_stock_notify_rows();
)sql",
    // 3: a whole ReserveStock in one statement, so that a reservation is
    // one round trip (one prepared statement, committed at its Sync) rather
    // than four. Its rows say what happened, one outcome per call:
    //   'existing': the order is recorded: one row per line (product,
    //     quantity, remaining, owner, released), nothing written;
    //   'unknown': line out_a's product is not stocked, nothing written;
    //   'short': line out_a asks more than out_b available, nothing written;
    //   'reserved': one row per line's product (its quantity and version
    //     after the decrement); the order and its lines are recorded.
    // Rows are locked in product-id order, as every other transaction takes
    // them. A concurrent first reservation of the same order id fails the
    // INSERT with a unique violation, which the caller retries (and then
    // sees 'existing'). Its statements keep generic plans.
    R"sql(
CREATE FUNCTION inventory_reserve(p_order text, p_owner text, p_products text[],
                                  p_quantities integer[])
RETURNS TABLE(out_outcome text, out_product text, out_a bigint, out_b bigint, out_owner text,
              out_released boolean)
LANGUAGE plpgsql
-- Plan each statement once per session: planning a custom plan per call
-- (the default for parameters) was a fifth of PostgreSQL's CPU per call.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  n integer := cardinality(p_products);
  ids text[];
  qs integer[];
  have integer;
  written bigint;
BEGIN
  RETURN QUERY SELECT 'existing'::text, l.product_id::text, l.quantity::bigint,
      l.remaining::bigint, o.owner, o.released_at IS NOT NULL
    FROM inventory_orders o JOIN inventory_order_lines l ON l.order_id = o.order_id
    WHERE o.order_id = p_order ORDER BY l.line_index;
  IF FOUND THEN RETURN; END IF;
  SELECT coalesce(array_agg(s.product_id), '{}'), coalesce(array_agg(s.quantity), '{}')
    INTO ids, qs
    FROM (SELECT t.product_id, t.quantity FROM inventory_stock t
          WHERE t.product_id = ANY (p_products) ORDER BY t.product_id FOR UPDATE) s;
  FOR i IN 1 .. n LOOP
    IF array_position(ids, p_products[i]) IS NULL THEN
      RETURN QUERY SELECT 'unknown'::text, p_products[i], (i - 1)::bigint, 0::bigint, ''::text,
          false;
      RETURN;
    END IF;
  END LOOP;
  FOR i IN 1 .. n LOOP
    have := qs[array_position(ids, p_products[i])];
    IF have < p_quantities[i] THEN
      RETURN QUERY SELECT 'short'::text, p_products[i], (i - 1)::bigint, have::bigint, ''::text,
          false;
      RETURN;
    END IF;
  END LOOP;
  INSERT INTO inventory_orders(order_id, owner) VALUES (p_order, p_owner);
  RETURN QUERY
    WITH updated AS (
      UPDATE inventory_stock AS s SET quantity = s.quantity - v.q, version = s.version + 1
        FROM unnest(p_products, p_quantities) AS v(id, q)
        WHERE s.product_id = v.id AND s.quantity >= v.q
        RETURNING s.product_id, s.quantity, s.version),
    recorded AS (
      INSERT INTO inventory_order_lines(order_id, line_index, product_id, quantity, remaining)
        SELECT p_order, v.ord - 1, v.id, v.q, u.quantity
        FROM unnest(p_products, p_quantities) WITH ORDINALITY AS v(id, q, ord)
        JOIN updated u ON u.product_id = v.id)
    SELECT 'reserved'::text, u.product_id::text, u.quantity::bigint, u.version, ''::text, false
      FROM updated u;
  GET DIAGNOSTICS written = ROW_COUNT;
  IF written <> n THEN
    RAISE EXCEPTION 'a locked stock row changed during its transaction';
  END IF;
END $$;
)sql",
};

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;
struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Conflicts worth retrying the whole transaction for.
constexpr char kRetryPrefix[] = "retryable: ";

bool IsRetryable(const absl::Status& status) {
  return absl::IsAborted(status) && absl::StartsWith(status.message(), kRetryPrefix);
}

absl::Status ConnectionLost(PGconn* conn) {
  return absl::UnavailableError(absl::StrCat("PostgreSQL connection lost: ", PQerrorMessage(conn)));
}

// The status of a statement's `result`: OK, or its error classified.
absl::StatusOr<Result> Checked(PGconn* conn, Result result) {
  if (result == nullptr || PQstatus(conn) != CONNECTION_OK) return ConnectionLost(conn);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
  const std::string code = state != nullptr ? state : "";
  const std::string message = absl::StrCat("PostgreSQL: ", PQresultErrorMessage(result.get()));
  if (code == "40001" || code == "40P01" || code == "23505") {
    return absl::AbortedError(absl::StrCat(kRetryPrefix, message));
  }
  if (absl::StartsWith(code, "08") || code == "57P01" || code == "57P02" || code == "57P03") {
    return absl::UnavailableError(message);
  }
  if (code == "57014") return absl::DeadlineExceededError(message);  // statement timeout
  return absl::InternalError(message);
}

// How long to wait for PostgreSQL's answer: until the call's deadline
// (then DEADLINE_EXCEEDED), and at most until `hung`, past which a server
// that has not answered even its statement_timeout is taken for hung (then
// UNAVAILABLE). Either way the outcome of what was sent is unknown, and the
// connection must be dropped (Session::Recover does).
struct WaitLimit {
  absl::Time call = absl::InfiniteFuture();
  absl::Time hung = absl::InfiniteFuture();
};

// Waits until `conn` can hand over a whole result without blocking.
absl::Status AwaitResult(PGconn* conn, const WaitLimit& limit) {
  while (PQisBusy(conn) == 1) {
    const absl::Time now = absl::Now();
    if (now >= limit.call) {
      return absl::DeadlineExceededError(
          "PostgreSQL did not answer before the call's deadline (the outcome is unknown)");
    }
    if (now >= limit.hung) {
      return absl::UnavailableError(
          "PostgreSQL did not answer within statement_timeout: taken for hung");
    }
    const absl::Duration left = std::min(limit.call, limit.hung) - now;
    const int timeout_ms =
        left == absl::InfiniteDuration()
            ? -1
            : static_cast<int>(std::min<std::int64_t>(absl::ToInt64Milliseconds(left) + 1, 60000));
    pollfd fd{PQsocket(conn), POLLIN, 0};
    const int ready = poll(&fd, 1, timeout_ms);
    if (ready < 0 && errno != EINTR) return ConnectionLost(conn);
    if (ready > 0 && PQconsumeInput(conn) == 0) return ConnectionLost(conn);
  }
  return absl::OkStatus();
}

// The results of the query sent last, as PQexec gathers them: the last
// one's status (an error stops a multi-statement query where it occurs).
absl::StatusOr<Result> Gather(PGconn* conn, const WaitLimit& limit) {
  Result last;
  for (;;) {
    if (absl::Status ready = AwaitResult(conn, limit); !ready.ok()) return ready;
    Result next(PQgetResult(conn));
    if (next == nullptr) break;
    last = std::move(next);
  }
  return Checked(conn, std::move(last));
}

// Runs `sql` (one or more statements; the result is the last one's).
absl::StatusOr<Result> Exec(PGconn* conn, const std::string& sql, const WaitLimit& limit = {}) {
  if (PQsendQuery(conn, sql.c_str()) != 1) return ConnectionLost(conn);
  return Gather(conn, limit);
}

// Runs the statement prepared as `name` (Session::Get prepares them) with
// text parameters, in one round trip; outside BEGIN it is its own
// transaction, committed before the answer arrives.
absl::StatusOr<Result> ExecPrepared(PGconn* conn, const char* name,
                                    const std::vector<std::string>& params,
                                    const WaitLimit& limit) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& param : params) values.push_back(param.c_str());
  if (PQsendQueryPrepared(conn, name, static_cast<int>(values.size()), values.data(), nullptr,
                          nullptr, /*resultFormat=*/0) != 1) {
    return ConnectionLost(conn);
  }
  return Gather(conn, limit);
}

// A text[] parameter: every element quoted, so any text is taken as is.
std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

// An integer[] parameter.
std::string IntArrayLiteral(const std::vector<std::int32_t>& items) {
  return absl::StrCat("{", absl::StrJoin(items, ","), "}");
}

// How long to wait for what is sent now for a call due at `deadline`: a
// server that has not answered even by statement_timeout and a second more
// is taken for hung.
WaitLimit LimitFor(const PostgresOptions& options, absl::Time deadline = absl::InfiniteFuture()) {
  return {deadline, absl::Now() + options.statement_timeout + absl::Seconds(1)};
}

// A call whose deadline passed before it reached the database.
absl::Status DeadlinePassed() {
  return absl::DeadlineExceededError("deadline passed before PostgreSQL answered");
}

// The requests whose deadline has not passed; the others are answered
// DEADLINE_EXCEEDED.
template <class Request>
std::vector<Request*> Unexpired(std::vector<Request>& requests) {
  const absl::Time now = absl::Now();
  std::vector<Request*> live;
  live.reserve(requests.size());
  for (Request& request : requests) {
    if (now > request.deadline) {
      std::move(request.done)(DeadlinePassed());
    } else {
      live.push_back(&request);
    }
  }
  return live;
}

// The statements every connection prepares (Session::Get).
constexpr char kReserveStatement[] = "inventory_reserve";
constexpr char kSetStatement[] = "inventory_set";
struct Prepared {
  const char* name;
  const char* sql;
};
constexpr Prepared kPrepared[] = {
    {kReserveStatement,
     "SELECT out_outcome, out_product, out_a, out_b, out_owner, out_released FROM "
     "inventory_reserve($1, $2, $3::text[], $4::integer[])"},
    // SetStock of several products at once (distinct ids): one statement,
    // one commit, one notification.
    {kSetStatement,
     "INSERT INTO inventory_stock(product_id, quantity, version) SELECT v.id, v.q, 1 FROM "
     "unnest($1::text[], $2::integer[]) AS v(id, q) ON CONFLICT (product_id) DO UPDATE SET "
     "quantity = EXCLUDED.quantity, version = inventory_stock.version + 1 RETURNING product_id, "
     "quantity, version"},
};

std::string Literal(PGconn* conn, absl::string_view text) {
  char* escaped = PQescapeLiteral(conn, text.data(), text.size());
  if (escaped == nullptr) return "NULL";  // only on out of memory; the statement then fails
  std::string literal(escaped);
  PQfreemem(escaped);
  return literal;
}

std::string Field(PGresult* result, int row, int column) {
  return std::string(PQgetvalue(result, row, column), PQgetlength(result, row, column));
}
std::int64_t IntField(PGresult* result, int row, int column) {
  std::int64_t value = 0;
  (void)absl::SimpleAtoi(absl::string_view(PQgetvalue(result, row, column)), &value);
  return value;
}

// Quantities are integer columns; clamped anyway rather than wrapped.
std::int32_t Saturate(std::int64_t value) {
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(
      value, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()));
}

// A new connection, within connect_timeout and by `deadline` (a call's):
// libpq's non-blocking connect, so that a server that accepts and then
// hangs holds no call past its deadline. (A host name is still resolved
// blocking, by libpq.)
Conn Connect(const PostgresOptions& options, std::string* error,
             absl::Time deadline = absl::InfiniteFuture()) {
  const std::string timeout =
      absl::StrCat(std::max<std::int64_t>(2, absl::ToInt64Seconds(options.connect_timeout)));
  const std::string pg_options =
      absl::StrCat("-c synchronous_commit=on -c client_min_messages=warning -c statement_timeout=",
                   absl::ToInt64Milliseconds(options.statement_timeout));
  const char* keys[] = {"dbname", "connect_timeout", "options", "application_name", nullptr};
  const char* values[] = {options.uri.c_str(), timeout.c_str(), pg_options.c_str(),
                          "inventory_server", nullptr};
  const absl::Time give_up =
      std::min(deadline, absl::Now() + std::max(options.connect_timeout, absl::Seconds(2)));
  Conn conn(PQconnectStartParams(keys, values, /*expand_dbname=*/1));
  PostgresPollingStatusType polled = PGRES_POLLING_WRITING;
  while (conn != nullptr && PQstatus(conn.get()) != CONNECTION_BAD && polled != PGRES_POLLING_OK &&
         polled != PGRES_POLLING_FAILED) {
    const absl::Duration left = give_up - absl::Now();
    if (left <= absl::ZeroDuration()) {
      *error = deadline < give_up ? "no connection before the call's deadline"
                                  : "timed out connecting (connect_timeout)";
      return nullptr;
    }
    pollfd fd{PQsocket(conn.get()),
              static_cast<short>(polled == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    const int ready =
        poll(&fd, 1,
             static_cast<int>(std::min<std::int64_t>(absl::ToInt64Milliseconds(left) + 1, 60000)));
    if (ready > 0 || (ready < 0 && errno != EINTR)) polled = PQconnectPoll(conn.get());
  }
  if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
    *error = conn == nullptr ? "out of memory" : PQerrorMessage(conn.get());
    while (!error->empty() && error->back() == '\n') error->pop_back();
    return nullptr;
  }
  return conn;
}

// The IN list of `ids`, escaped.
std::string InList(PGconn* conn, const std::vector<std::string>& ids) {
  std::vector<std::string> literals;
  literals.reserve(ids.size());
  for (const std::string& id : ids) literals.push_back(Literal(conn, id));
  return absl::StrCat("(", absl::StrJoin(literals, ", "), ")");
}

// Locks the stock rows of `ids` in product-id order (the order every
// transaction takes them in, so overlapping orders cannot deadlock) and
// returns their quantities.
absl::StatusOr<absl::flat_hash_map<std::string, std::int32_t>> LockStock(
    PGconn* conn, const std::vector<std::string>& ids, const WaitLimit& limit) {
  absl::StatusOr<Result> rows =
      Exec(conn,
           absl::StrCat("SELECT product_id, quantity FROM inventory_stock WHERE product_id IN ",
                        InList(conn, ids), " ORDER BY product_id FOR UPDATE"),
           limit);
  if (!rows.ok()) return rows.status();
  absl::flat_hash_map<std::string, std::int32_t> quantities;
  for (int row = 0; row < PQntuples(rows->get()); ++row) {
    quantities[Field(rows->get(), row, 0)] = Saturate(IntField(rows->get(), row, 1));
  }
  return quantities;
}

using NewLevel = PostgresStockMutations::NewLevel;

absl::Status ShuttingDown() { return absl::UnavailableError("the server is shutting down"); }

// A reservation whose connection failed before its COMMIT was confirmed.
absl::Status OutcomeUnknown(const absl::Status& lost) {
  return absl::UnavailableError(absl::StrCat(
      "the reservation's outcome is unknown (retry with the same order id): ", lost.message()));
}

// Reads "product_id, quantity, version" rows.
std::vector<NewLevel> LevelsOf(PGresult* result) {
  std::vector<NewLevel> levels;
  levels.reserve(PQntuples(result));
  for (int row = 0; row < PQntuples(result); ++row) {
    levels.push_back(
        {Field(result, row, 0), Saturate(IntField(result, row, 1)), IntField(result, row, 2)});
  }
  return levels;
}

absl::Status ExpectCommitted(const Result& result) {
  if (std::strcmp(PQcmdStatus(result.get()), "COMMIT") != 0) {
    return absl::AbortedError(absl::StrCat(kRetryPrefix, "the transaction was rolled back"));
  }
  return absl::OkStatus();
}

// inventory_reserve's parameters: the order id, the owner, the products
// (text[]) and the quantities (integer[]) of the lines, in line order.
std::vector<std::string> ReserveParams(const std::string& order_id, const std::string& owner,
                                       const std::vector<OrderLine>& lines) {
  std::vector<std::string> products;
  std::vector<std::int32_t> quantities;
  products.reserve(lines.size());
  quantities.reserve(lines.size());
  for (const OrderLine& line : lines) {
    products.push_back(line.product_id);
    quantities.push_back(line.quantity);
  }
  return {order_id, owner, ArrayLiteral(products), IntArrayLiteral(quantities)};
}

// The answer to a Reserve from inventory_reserve's rows (migration 3 says
// what they hold); `committed` gets the levels a 'reserved' outcome wrote.
StockResult ReserveAnswer(PGresult* r, const std::string& order_id, const std::string& owner,
                          const std::vector<OrderLine>& lines, std::vector<NewLevel>* committed) {
  committed->clear();
  const int count = PQntuples(r);
  const std::string outcome = count > 0 ? Field(r, 0, 0) : "";
  if (outcome == "existing") {
    if (domain::inventory::OwnedByAnother(Field(r, 0, 4), owner)) {
      return domain::inventory::NotYourOrder(order_id);
    }
    OrderState state;
    state.order_id = order_id;
    state.released = Field(r, 0, 5) == "t";
    for (int row = 0; row < count; ++row) {
      state.lines.push_back(
          {Field(r, row, 1), Saturate(IntField(r, row, 2)), Saturate(IntField(r, row, 3))});
    }
    return domain::inventory::ReplayOrder(state, lines);
  }
  if (outcome == "unknown" || outcome == "short") {
    const std::int64_t index = IntField(r, 0, 2);
    if (index < 0 || index >= static_cast<std::int64_t>(lines.size())) {
      return absl::InternalError("inventory_reserve named a line the order does not have");
    }
    const OrderLine& line = lines[index];
    if (outcome == "unknown") return domain::inventory::UnknownProduct(index, line.product_id);
    return domain::inventory::InsufficientStock(index, line.product_id, line.quantity,
                                                Saturate(IntField(r, 0, 3)));
  }
  if (outcome != "reserved" || count != static_cast<int>(lines.size())) {
    return absl::InternalError(
        absl::StrCat("inventory_reserve answered ", count, " rows of outcome '", outcome, "'"));
  }
  absl::flat_hash_map<std::string, std::int32_t> left;
  for (int row = 0; row < count; ++row) {
    committed->push_back({Field(r, row, 1), Saturate(IntField(r, row, 2)), IntField(r, row, 3)});
    left[committed->back().product_id] = committed->back().quantity;
  }
  std::vector<ProductStock> answer;
  answer.reserve(lines.size());
  for (const OrderLine& line : lines) {
    auto it = left.find(line.product_id);
    if (it == left.end()) {
      return absl::InternalError(
          absl::StrCat("inventory_reserve did not return '", line.product_id, "'"));
    }
    answer.push_back({line.product_id, {it->second > 0, it->second}});
  }
  return answer;
}

}  // namespace

// One connection thread's connection, opened on first use and after a loss.
class PostgresStockMutations::Session {
 public:
  explicit Session(const PostgresOptions& options) : options_(options) {}

  // Whether a connection is open (Get would not connect).
  bool connected() const { return conn_ != nullptr && PQstatus(conn_.get()) == CONNECTION_OK; }

  // The open connection, or a new one by `deadline`; UNAVAILABLE if
  // PostgreSQL cannot be reached (by then).
  absl::StatusOr<PGconn*> Get(absl::Time deadline) {
    if (connected()) return conn_.get();
    conn_.reset();
    std::string error;
    conn_ = Connect(options_, &error, deadline);
    if (conn_ == nullptr) {
      return absl::UnavailableError(absl::StrCat("PostgreSQL unreachable: ", error));
    }
    for (const Prepared& statement : kPrepared) {
      absl::StatusOr<Result> prepared =
          PQsendPrepare(conn_.get(), statement.name, statement.sql, 0, nullptr) == 1
              ? Gather(conn_.get(), Limit(deadline))
              : ConnectionLost(conn_.get());
      if (!prepared.ok()) {
        conn_.reset();
        return prepared.status();
      }
    }
    return conn_.get();
  }

  // After a failed statement: rolls back an open transaction, or drops a
  // broken connection.
  void Recover() {
    if (conn_ == nullptr) return;
    // A query still running (its wait gave up) cannot be taken back: the
    // connection goes.
    if (PQstatus(conn_.get()) != CONNECTION_OK ||
        PQtransactionStatus(conn_.get()) == PQTRANS_ACTIVE ||
        (PQpipelineStatus(conn_.get()) != PQ_PIPELINE_OFF &&
         PQexitPipelineMode(conn_.get()) != 1)) {
      conn_.reset();
      return;
    }
    if (PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) {
      if (!Exec(conn_.get(), "ROLLBACK", Limit(absl::InfiniteFuture())).ok()) conn_.reset();
    }
  }

  // How long to wait for an answer to what is sent now for a call due at
  // `deadline`.
  WaitLimit Limit(absl::Time deadline) const { return LimitFor(options_, deadline); }

  // Runs `body(conn, limit)` (one transaction) until it succeeds, fails for
  // a reason other than a retryable conflict, or max_attempts are used.
  template <class T, class Body>
  absl::StatusOr<T> Run(absl::Time deadline, Body body) {
    absl::Status last;
    for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
      if (absl::Now() > deadline) {
        return DeadlinePassed();
      }
      absl::StatusOr<PGconn*> conn = Get(deadline);
      if (!conn.ok()) return conn.status();
      absl::StatusOr<T> result = body(*conn, Limit(deadline));
      if (result.ok()) return result;
      Recover();
      if (!IsRetryable(result.status())) return result.status();
      last = result.status();
    }
    return absl::AbortedError(absl::StrCat("gave up after ", options_.max_attempts,
                                           " attempts on conflicting transactions; last: ",
                                           last.message().substr(sizeof(kRetryPrefix) - 1)));
  }

 private:
  const PostgresOptions& options_;
  Conn conn_;
};

PostgresStockMutations::PostgresStockMutations(PostgresOptions options)
    : options_(std::move(options)), cache_(options_.cache_shards) {}

absl::StatusOr<std::unique_ptr<PostgresStockMutations>> PostgresStockMutations::Open(
    PostgresOptions options, const std::vector<CatalogEntry>& catalog) {
  if (options.uri.empty()) return absl::InvalidArgumentError("--postgres: empty URI");
  if (options.pool_size < 1) return absl::InvalidArgumentError("--postgres_pool_size must be >= 1");
  if (options.queue_limit < 1) {
    return absl::InvalidArgumentError("--postgres_queue_limit must be >= 1");
  }
  if (options.max_attempts < 1) options.max_attempts = 1;
  for (const CatalogEntry& entry : catalog) {
    if (absl::Status valid =
            domain::inventory::ValidateStockLevel(entry.product_id, entry.quantity);
        !valid.ok()) {
      return valid;
    }
  }
  std::unique_ptr<PostgresStockMutations> store(new PostgresStockMutations(std::move(options)));
  std::string error;
  Conn conn = Connect(store->options_, &error);
  if (conn == nullptr) {
    return absl::UnavailableError(absl::StrCat("--postgres: cannot connect: ", error));
  }
  PGconn* c = conn.get();
  const auto fail = [&](const absl::Status& status) {
    return absl::Status(status.code(), absl::StrCat("--postgres: ", status.message()));
  };
  // Migrations and seeding, one replica at a time; the lock is the
  // session's, so it also goes if this process dies.
  if (auto locked = Exec(c, absl::StrCat("SELECT pg_advisory_lock(", kMigrationLockKey, ")"));
      !locked.ok()) {
    return fail(locked.status());
  }
  absl::Status migrated = [&]() -> absl::Status {
    auto table =
        Exec(c,
             "CREATE TABLE IF NOT EXISTS inventory_schema_migrations ("
             "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    if (!table.ok()) return table.status();
    auto current = Exec(c, "SELECT coalesce(max(version), 0) FROM inventory_schema_migrations");
    if (!current.ok()) return current.status();
    const std::int64_t applied = IntField(current->get(), 0, 0);
    const std::int64_t known = sizeof(kMigrations) / sizeof(kMigrations[0]);
    if (applied > known) {
      return absl::FailedPreconditionError(absl::StrCat("the database's schema is version ",
                                                        applied, ", newer than this server knows (",
                                                        known, ")"));
    }
    for (std::int64_t version = applied + 1; version <= known; ++version) {
      auto done =
          Exec(c, absl::StrCat("BEGIN; ", kMigrations[version - 1],
                               "; INSERT INTO inventory_schema_migrations(version) VALUES (",
                               version, "); COMMIT"));
      if (!done.ok()) {
        Result rolled(PQexec(c, "ROLLBACK"));
        return absl::InternalError(
            absl::StrCat("migration ", version, " failed: ", done.status().message()));
      }
    }
    // Seeding: only a database never seeded whose stock table is empty.
    auto seeded = Exec(c,
                       "BEGIN; SELECT (SELECT count(*) FROM inventory_seed), "
                       "(SELECT count(*) FROM inventory_stock)");
    if (!seeded.ok()) return seeded.status();
    if (IntField(seeded->get(), 0, 0) == 0 && IntField(seeded->get(), 0, 1) == 0) {
      constexpr std::size_t kBatch = 1000;
      for (std::size_t begin = 0; begin < catalog.size(); begin += kBatch) {
        std::vector<std::string> rows;
        for (std::size_t i = begin; i < std::min(catalog.size(), begin + kBatch); ++i) {
          rows.push_back(absl::StrCat("(", Literal(c, catalog[i].product_id), ", ",
                                      catalog[i].quantity, ", 1)"));
        }
        auto inserted = Exec(c, absl::StrCat("INSERT INTO inventory_stock(product_id, quantity, "
                                             "version) VALUES ",
                                             absl::StrJoin(rows, ", "),
                                             " ON CONFLICT (product_id) DO UPDATE SET "
                                             "quantity = EXCLUDED.quantity"));
        if (!inserted.ok()) return inserted.status();
      }
      auto marked = Exec(c, absl::StrCat("INSERT INTO inventory_seed VALUES (now(), ",
                                         catalog.size(), "); COMMIT"));
      if (!marked.ok()) return marked.status();
      store->origin_ = Origin::kSeeded;
    } else {
      auto committed = Exec(c, "COMMIT");
      if (!committed.ok()) return committed.status();
    }
    return absl::OkStatus();
  }();
  if (!migrated.ok()) return fail(migrated);
  if (auto unlocked = Exec(c, absl::StrCat("SELECT pg_advisory_unlock(", kMigrationLockKey, ")"));
      !unlocked.ok()) {
    return fail(unlocked.status());
  }
  auto rows = Exec(c, "SELECT product_id, quantity, version FROM inventory_stock");
  if (!rows.ok()) return fail(rows.status());
  store->ApplyToCache(LevelsOf(rows->get()));
  conn.reset();

  store->listener_ = std::thread([s = store.get()] { s->ListenerLoop(); });
  for (int i = 0; i < store->options_.pool_size; ++i) {
    store->workers_.emplace_back([s = store.get()] { s->WorkerLoop(); });
  }
  return store;
}

PostgresStockMutations::~PostgresStockMutations() {
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
    queue_cv_.SignalAll();
  }
  for (std::thread& worker : workers_) worker.join();
  stop_listener_ = true;
  if (listener_.joinable()) listener_.join();
  // Whatever was queued after the workers left.
  std::deque<Work> left;
  {
    absl::MutexLock lock(&queue_mu_);
    left.swap(queue_);
  }
  for (Work& work : left) {
    if (auto* set = std::get_if<SetRequest>(&work)) {
      std::move(set->done)(ShuttingDown());
    } else if (auto* reserve = std::get_if<ReserveRequest>(&work)) {
      std::move(reserve->done)(ShuttingDown());
    } else {
      std::move(std::get<Job>(work))(nullptr);
    }
  }
}

void PostgresStockMutations::ApplyToCache(const std::string& product_id, std::int32_t quantity,
                                          std::int64_t version) {
  ApplyToCache({{product_id, quantity, version}});
}

void PostgresStockMutations::ApplyToCache(const std::vector<NewLevel>& levels) {
  absl::MutexLock lock(&versions_mu_);
  std::vector<domain::inventory::CatalogEntry> newer;
  newer.reserve(levels.size());
  for (const NewLevel& level : levels) {
    std::int64_t& known = versions_[level.product_id];
    if (level.version <= known) continue;
    known = level.version;
    newer.push_back({level.product_id, level.quantity});
  }
  // All in one cache change, so a BatchGet sees a transaction whole. The
  // cache has no journal, so this fails only for what the database's
  // constraints already exclude (bad id, negative quantity); then the rows
  // are applied one by one so the valid ones still land.
  if (!cache_.SetLevels(newer).ok()) {
    for (const auto& entry : newer) (void)cache_.Set(entry.product_id, entry.quantity);
  }
}

bool PostgresStockMutations::Enqueue(Work& work) {
  absl::MutexLock lock(&queue_mu_);
  if (stopping_ || queue_.size() >= static_cast<std::size_t>(options_.queue_limit)) return false;
  queue_.push_back(std::move(work));
  queue_cv_.Signal();
  return true;
}

void PostgresStockMutations::WorkerLoop() {
  Session session(options_);
  for (;;) {
    Work work;
    std::vector<SetRequest> sets;
    std::vector<ReserveRequest> reserves;
    {
      absl::MutexLock lock(&queue_mu_);
      while (!stopping_ && queue_.empty()) queue_cv_.Wait(&queue_mu_);
      if (queue_.empty()) return;  // stopping, and nothing left
      work = std::move(queue_.front());
      queue_.pop_front();
      if (auto* set = std::get_if<SetRequest>(&work)) {
        // The SetStocks queued right behind it go in the same statement,
        // up to the first that names a product already in it.
        absl::flat_hash_set<std::string> products = {set->product_id};
        sets.push_back(std::move(*set));
        while (!queue_.empty() && sets.size() < kMaxSetBatch) {
          auto* next = std::get_if<SetRequest>(&queue_.front());
          if (next == nullptr || !products.insert(next->product_id).second) break;
          sets.push_back(std::move(*next));
          queue_.pop_front();
        }
      } else if (auto* reserve = std::get_if<ReserveRequest>(&work)) {
        // And the reservations queued right behind it, pipelined.
        reserves.push_back(std::move(*reserve));
        while (!queue_.empty() && reserves.size() < kMaxReservePipeline) {
          auto* next = std::get_if<ReserveRequest>(&queue_.front());
          if (next == nullptr) break;
          reserves.push_back(std::move(*next));
          queue_.pop_front();
        }
      }
    }
    if (!sets.empty()) {
      RunSets(session, sets);
    } else if (!reserves.empty()) {
      RunReserves(session, reserves);
    } else {
      std::move(std::get<Job>(work))(&session);
    }
  }
}

void PostgresStockMutations::RunSets(Session& session, std::vector<SetRequest>& sets) {
  const std::vector<SetRequest*> live = Unexpired(sets);
  if (live.empty()) return;
  std::vector<std::string> products;
  std::vector<std::int32_t> quantities;
  absl::Time deadline = absl::InfinitePast();
  for (const SetRequest* set : live) {
    deadline = std::max(deadline, set->deadline);
    products.push_back(set->product_id);
    quantities.push_back(set->quantity);
  }
  const std::string product_array = ArrayLiteral(products);
  const std::string quantity_array = IntArrayLiteral(quantities);
  absl::StatusOr<std::vector<NewLevel>> result = session.Run<std::vector<NewLevel>>(
      deadline, [&](PGconn* c, const WaitLimit& limit) -> absl::StatusOr<std::vector<NewLevel>> {
        auto rows = ExecPrepared(c, kSetStatement, {product_array, quantity_array}, limit);
        if (!rows.ok()) return rows.status();
        if (PQntuples(rows->get()) != static_cast<int>(live.size())) {
          return absl::InternalError(
              "SetStock: PostgreSQL returned a row count unlike the batch's");
        }
        return LevelsOf(rows->get());
      });
  if (result.ok()) ApplyToCache(*result);
  for (SetRequest* set : live) std::move(set->done)(result.status());
}

void PostgresStockMutations::HandleNotification(
    absl::string_view payload, absl::flat_hash_map<std::string, PartialGroup>& partial) {
  std::vector<absl::string_view> lines = absl::StrSplit(payload, '\n');
  std::vector<NewLevel> levels;
  std::size_t first = 0;
  std::string group;
  std::int64_t chunk = 0;
  std::int64_t chunks = 0;
  if (!lines.empty() && absl::StartsWith(lines[0], "#")) {
    // "#group,k,n": one of n chunks of one statement's rows.
    std::vector<absl::string_view> header = absl::StrSplit(lines[0].substr(1), ',');
    if (header.size() != 3 || !absl::SimpleAtoi(header[1], &chunk) ||
        !absl::SimpleAtoi(header[2], &chunks) || chunk < 1 || chunks < 1 || chunk > chunks) {
      return;
    }
    group = std::string(header[0]);
    first = 1;
  }
  for (std::size_t i = first; i < lines.size(); ++i) {
    // "version,quantity,product_id": the id goes last, it may hold commas.
    std::vector<absl::string_view> parts = absl::StrSplit(lines[i], absl::MaxSplits(',', 2));
    std::int64_t version = 0;
    std::int64_t quantity = 0;
    if (parts.size() == 3 && absl::SimpleAtoi(parts[0], &version) &&
        absl::SimpleAtoi(parts[1], &quantity)) {
      levels.push_back({std::string(parts[2]), Saturate(quantity), version});
    }
  }
  if (group.empty()) {
    ApplyToCache(levels);
    return;
  }
  PartialGroup& pending = partial[group];
  pending.received += 1;
  for (NewLevel& level : levels) pending.levels.push_back(std::move(level));
  if (pending.received < chunks) return;
  ApplyToCache(pending.levels);
  partial.erase(group);
}

void PostgresStockMutations::ListenerLoop() {
  absl::Duration backoff = absl::Milliseconds(50);
  absl::Time next_sweep = absl::Now() + options_.retention_interval;
  const bool sweeping = options_.order_retention > absl::ZeroDuration() &&
                        options_.order_retention != absl::InfiniteDuration();
  // Chunks of split notifications, by group, until the last one arrives.
  absl::flat_hash_map<std::string, PartialGroup> partial;
  while (!stop_listener_) {
    std::string error;
    Conn conn = Connect(options_, &error);
    if (conn == nullptr) {
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(1));
      continue;
    }
    PGconn* c = conn.get();
    // LISTEN before the reload: a change committed in between is both in
    // the reload and notified, and the version keeps the newer.
    // Bounded, so that a hung server does not hold the listener (and a
    // shutdown) forever.
    const WaitLimit limit = LimitFor(options_);
    absl::StatusOr<Result> rows = Exec(c, absl::StrCat("LISTEN ", kChannel), limit);
    if (rows.ok()) {
      rows = Exec(c, "SELECT product_id, quantity, version FROM inventory_stock", limit);
    }
    if (!rows.ok()) {
      absl::SleepFor(backoff);
      continue;
    }
    ApplyToCache(LevelsOf(rows->get()));
    partial.clear();
    ++reloads_;
    listening_ = true;
    backoff = absl::Milliseconds(50);
    while (!stop_listener_ && PQstatus(c) == CONNECTION_OK) {
      pollfd fd{PQsocket(c), POLLIN, 0};
      const int ready = poll(&fd, 1, 100);
      if (ready < 0) continue;
      if (ready > 0 && PQconsumeInput(c) == 0) break;  // connection lost
      while (PGnotify* notify = PQnotifies(c)) {
        HandleNotification(notify->extra, partial);
        PQfreemem(notify);
      }
      if (sweeping && absl::Now() >= next_sweep) {
        next_sweep = absl::Now() + options_.retention_interval;
        if (!Exec(c,
                  absl::StrCat("DELETE FROM inventory_orders WHERE released_at < now() - "
                               "interval '",
                               absl::ToInt64Milliseconds(options_.order_retention),
                               " milliseconds'"),
                  LimitFor(options_))
                 .ok() &&
            PQtransactionStatus(c) == PQTRANS_ACTIVE) {
          break;  // hung: reconnect
        }
      }
    }
    listening_ = false;
  }
}

void PostgresStockMutations::Reserve(std::string order_id, std::vector<OrderLine> lines,
                                     std::string owner, absl::Time deadline, StockDone done) {
  if (absl::Status valid = domain::inventory::ValidateReservation(order_id, lines); !valid.ok()) {
    std::move(done)(std::move(valid));
    return;
  }
  Work work(std::in_place_type<ReserveRequest>,
            ReserveRequest{std::move(order_id), std::move(lines), std::move(owner), deadline,
                           std::move(done)});
  if (!Enqueue(work)) {
    std::move(std::get<ReserveRequest>(work).done)(absl::ResourceExhaustedError(
        "too many reservations waiting for PostgreSQL (--postgres_queue_limit)"));
  }
}

void PostgresStockMutations::RunReserve(Session& session, ReserveRequest& request) {
  const std::vector<std::string> params =
      ReserveParams(request.order_id, request.owner, request.lines);
  std::vector<NewLevel> committed;
  StockResult result = session.Run<std::vector<ProductStock>>(
      request.deadline, [&](PGconn* c, const WaitLimit& limit) -> StockResult {
        committed.clear();
        auto rows = ExecPrepared(c, kReserveStatement, params, limit);
        if (!rows.ok()) {
          return absl::IsUnavailable(rows.status()) ? OutcomeUnknown(rows.status()) : rows.status();
        }
        return ReserveAnswer(rows->get(), request.order_id, request.owner, request.lines,
                             &committed);
      });
  if (result.ok()) ApplyToCache(committed);
  std::move(request.done)(std::move(result));
}

void PostgresStockMutations::RunReserves(Session& session, std::vector<ReserveRequest>& reserves) {
  const std::vector<ReserveRequest*> live = Unexpired(reserves);
  // Pipelined on an open connection only: a connection is made within
  // each call's own deadline.
  std::vector<ReserveRequest*> again =
      live.size() > 1 && session.connected() ? RunPipelined(session, live) : live;
  for (ReserveRequest* request : again) RunReserve(session, *request);
}

std::vector<PostgresStockMutations::ReserveRequest*> PostgresStockMutations::RunPipelined(
    Session& session, const std::vector<ReserveRequest*>& live) {
  absl::StatusOr<PGconn*> conn = session.Get(absl::InfiniteFuture());
  if (!conn.ok()) {
    for (ReserveRequest* request : live) std::move(request->done)(conn.status());
    return {};
  }
  PGconn* c = *conn;
  if (PQenterPipelineMode(c) != 1) return live;
  // Each order its own transaction, BEGIN, the call and COMMIT, all of
  // them sent at once and closed by one Sync.
  bool sent = true;
  for (ReserveRequest* request : live) {
    const std::vector<std::string> params =
        ReserveParams(request->order_id, request->owner, request->lines);
    const char* values[] = {params[0].c_str(), params[1].c_str(), params[2].c_str(),
                            params[3].c_str()};
    sent = PQsendQueryParams(c, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1 &&
           PQsendQueryPrepared(c, kReserveStatement, 4, values, nullptr, nullptr, 0) == 1 &&
           PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    if (!sent) break;
  }
  if (sent) sent = PQpipelineSync(c) == 1;
  pipelined_ += static_cast<std::int64_t>(live.size());
  // The next query's result, and the null that ends it; null when the
  // wait for it gave up (`*waited` says why) or the connection failed.
  const auto next = [c](const WaitLimit& limit, absl::Status* waited) {
    *waited = AwaitResult(c, limit);
    if (!waited->ok()) return Result();
    Result result(PQgetResult(c));
    if (result != nullptr && PQresultStatus(result.get()) != PGRES_PIPELINE_SYNC) {
      while ((*waited = AwaitResult(c, limit)).ok()) {
        PGresult* extra = PQgetResult(c);
        if (extra == nullptr) break;
        PQclear(extra);
      }
      if (!waited->ok()) return Result();
    }
    return result;
  };
  const auto aborted = [](const Result& result) {
    return result != nullptr && PQresultStatus(result.get()) == PGRES_PIPELINE_ABORTED;
  };
  std::vector<ReserveRequest*> again;  // never run, or a retryable conflict
  absl::Status broken = sent ? absl::OkStatus() : ConnectionLost(c);
  for (ReserveRequest* request : live) {
    if (!broken.ok()) {
      std::move(request->done)(OutcomeUnknown(broken));
      continue;
    }
    const WaitLimit limit = session.Limit(request->deadline);
    absl::Status waited;
    Result begun = next(limit, &waited);
    Result rows = waited.ok() ? next(limit, &waited) : nullptr;
    Result ended = waited.ok() ? next(limit, &waited) : nullptr;
    if (begun == nullptr || rows == nullptr || ended == nullptr || PQstatus(c) != CONNECTION_OK) {
      broken = waited.ok() ? ConnectionLost(c) : waited;
      std::move(request->done)(absl::IsDeadlineExceeded(broken) ? broken : OutcomeUnknown(broken));
      if (absl::IsDeadlineExceeded(broken)) {  // the others' outcome is as unknown
        broken = absl::UnavailableError("an earlier reservation's wait gave up on the connection");
      }
      continue;
    }
    if (aborted(begun) || aborted(rows)) {  // after an earlier order's error
      again.push_back(request);
      continue;
    }
    absl::StatusOr<Result> answered = Checked(c, std::move(rows));
    absl::Status status = answered.status();
    if (status.ok() && aborted(ended)) {  // cannot be: the call succeeded; so, never committed
      again.push_back(request);
      continue;
    }
    if (status.ok()) {
      absl::StatusOr<Result> committed = Checked(c, std::move(ended));
      status = committed.ok() ? ExpectCommitted(*committed) : committed.status();
    }
    if (!status.ok()) {
      if (IsRetryable(status)) {
        again.push_back(request);
      } else {
        std::move(request->done)(std::move(status));
      }
      continue;
    }
    std::vector<NewLevel> levels;
    StockResult result =
        ReserveAnswer(answered->get(), request->order_id, request->owner, request->lines, &levels);
    if (result.ok()) ApplyToCache(levels);
    std::move(request->done)(std::move(result));
  }
  if (broken.ok() && AwaitResult(c, session.Limit(absl::InfiniteFuture())).ok()) {
    PQclear(PQgetResult(c));  // the Sync's result
  }
  // Out of pipeline mode (which fails, dropping the connection, if results
  // are still due), and out of the transaction block an order that failed
  // left open (a Sync ends only implicit transactions).
  session.Recover();
  return again;
}

void PostgresStockMutations::Release(std::string order_id, std::string caller, absl::Time deadline,
                                     StockDone done) {
  if (absl::Status valid = domain::inventory::ValidateOrderId(order_id); !valid.ok()) {
    std::move(done)(std::move(valid));
    return;
  }
  auto shared_done = std::make_shared<StockDone>(std::move(done));
  Job job = [this, order_id = std::move(order_id), caller = std::move(caller), deadline,
             shared_done](Session* session) mutable {
    if (session == nullptr) {
      std::move (*shared_done)(ShuttingDown());
      return;
    }
    std::vector<NewLevel> committed;
    StockResult result = session->Run<std::vector<ProductStock>>(
        deadline, [&](PGconn* c, const WaitLimit& limit) -> StockResult {
          committed.clear();
          const std::string id = Literal(c, order_id);
          auto recorded =
              Exec(c,
                   absl::StrCat("BEGIN; SELECT o.owner, o.released_at IS NOT NULL, l.product_id, "
                                "l.quantity FROM inventory_orders o JOIN inventory_order_lines l "
                                "ON l.order_id = o.order_id WHERE o.order_id = ",
                                id, " ORDER BY l.line_index FOR UPDATE OF o"),
                   limit);
          if (!recorded.ok()) return recorded.status();
          PGresult* r = recorded->get();
          if (PQntuples(r) == 0) return domain::inventory::OrderNotFound(order_id);
          if (domain::inventory::OwnedByAnother(Field(r, 0, 0), caller)) {
            return domain::inventory::NotYourOrder(order_id);
          }
          const bool released = Field(r, 0, 1) == "t";
          std::vector<std::string> ids;
          std::vector<std::string> values;
          for (int row = 0; row < PQntuples(r); ++row) {
            ids.push_back(Field(r, row, 2));
            values.push_back(
                absl::StrCat("(", Literal(c, ids.back()), ", ", IntField(r, row, 3), ")"));
          }
          std::string sql;
          if (released) {
            sql = absl::StrCat(
                "SELECT product_id, quantity, version FROM inventory_stock WHERE product_id IN ",
                InList(c, ids));
          } else {
            auto locked = LockStock(c, ids, limit);
            if (!locked.ok()) return locked.status();
            sql = absl::StrCat(
                "UPDATE inventory_stock AS s SET quantity = least(s.quantity::bigint + v.q, "
                "2147483647)::integer, version = s.version + 1 FROM (VALUES ",
                absl::StrJoin(values, ", "),
                ") AS v(id, q) WHERE s.product_id = v.id RETURNING s.product_id, s.quantity, "
                "s.version");
          }
          auto levels = Exec(c, sql, limit);
          if (!levels.ok()) return levels.status();
          committed = LevelsOf(levels->get());
          auto ended = Exec(c,
                            released ? std::string("ROLLBACK")
                                     : absl::StrCat("UPDATE inventory_orders SET released_at "
                                                    "= now() WHERE order_id = ",
                                                    id, "; COMMIT"),
                            limit);
          if (!ended.ok()) return ended.status();
          if (!released) {
            if (absl::Status ok = ExpectCommitted(*ended); !ok.ok()) return ok;
          }
          absl::flat_hash_map<std::string, std::int32_t> now;
          for (const NewLevel& level : committed) now[level.product_id] = level.quantity;
          std::vector<ProductStock> answer;
          for (const std::string& product : ids) {
            auto it = now.find(product);
            if (it == now.end()) {
              return absl::InternalError(absl::StrCat("order '", order_id, "': product '", product,
                                                      "' is no longer in the store"));
            }
            answer.push_back({product, {it->second > 0, it->second}});
          }
          return answer;
        });
    if (result.ok()) ApplyToCache(committed);
    std::move (*shared_done)(std::move(result));
  };
  if (Work work = std::move(job); !Enqueue(work)) {
    std::move (*shared_done)(absl::ResourceExhaustedError(
        "too many releases waiting for PostgreSQL (--postgres_queue_limit)"));
  }
}

void PostgresStockMutations::Set(std::string product_id, std::int32_t quantity, absl::Time deadline,
                                 SetDone done) {
  if (absl::Status valid = domain::inventory::ValidateStockLevel(product_id, quantity);
      !valid.ok()) {
    std::move(done)(std::move(valid));
    return;
  }
  Work work(std::in_place_type<SetRequest>,
            SetRequest{std::move(product_id), quantity, deadline, std::move(done)});
  if (!Enqueue(work)) {
    std::move(std::get<SetRequest>(work).done)(absl::ResourceExhaustedError(
        "too many stock changes waiting for PostgreSQL (--postgres_queue_limit)"));
  }
}

}  // namespace storage::postgres
