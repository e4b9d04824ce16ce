// Durability against a real crash: the inventory_server binary, with a data
// directory, is killed with SIGKILL while clients are reserving, then
// restarted on the same directory. Every acknowledged reservation must be
// there, and stock must balance exactly against the orders that exist.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "inventory.grpc.pb.h"
#include "test/inventory_clients.h"
#include "test/loopback.h"
#include "test/temp_dir.h"
#include "test/test_util.h"

extern char** environ;

namespace {

using inventory::InventoryService;
using testing_util::DeadlineIn;

// inventory_server as a child process with its output in a log file.
class ServerProcess {
 public:
  ServerProcess(const std::string& data_dir, const std::string& catalog, const std::string& log)
      : log_(log) {
    std::vector<std::string> args = {INVENTORY_SERVER_PATH, "--listen=127.0.0.1:0",
                                     absl::StrCat("--data_dir=", data_dir),
                                     absl::StrCat("--catalog=", catalog), "--completion_queues=2"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    REQUIRE(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);

    const std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
    const bool started = testing_util::WaitUntil([&] {
      std::ifstream in(log_);
      std::stringstream text;
      text << in.rdbuf();
      std::smatch match;
      const std::string contents = text.str();
      if (!std::regex_search(contents, match, listening)) return false;
      port_ = std::stoi(match[1]);
      return true;
    });
    if (!started) FAIL("the server did not start; its log:\n" << Log());
  }
  ~ServerProcess() {
    if (pid_ > 0) Signal(SIGKILL);
  }

  int port() const { return port_; }
  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Sends `signal` and reaps the process; returns its wait status.
  int Signal(int signal) {
    REQUIRE(kill(pid_, signal) == 0);
    int status = 0;
    REQUIRE(waitpid(pid_, &status, 0) == pid_);
    pid_ = -1;
    return status;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

struct Order {
  std::string id;
  std::vector<std::pair<std::string, int>> lines;
};

constexpr int kProducts = 16;
constexpr int kInitialStock = 1000000;
std::string ProductName(int index) { return absl::StrCat("crash-", index); }

}  // namespace

TEST_CASE("SIGKILL during reservations loses no acknowledged reservation", "[crash]") {
  const testing_util::TempDir root("crash_recovery_test");
  std::string csv = "product_id,quantity\n";
  for (int i = 0; i < kProducts; ++i)
    absl::StrAppend(&csv, ProductName(i), ",", kInitialStock, "\n");
  const std::string catalog = root.WriteFile("catalog.csv", csv);
  const std::string data_dir = root.Path("data");

  // Phase 1: reserve from 16 threads until the server is killed under them.
  absl::Mutex mu;
  std::vector<Order> acknowledged;  // guarded by mu
  std::vector<Order> unknown;       // sent, no answer: may or may not exist; guarded by mu
  {
    ServerProcess server(data_dir, catalog, root.Path("first.log"));
    std::atomic<bool> server_gone{false};
    std::atomic<int> acks{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 16; ++t) {
      clients.emplace_back([&, t] {
        auto stub = InventoryService::NewStub(testing_util::LoopbackChannel(server.port(), t % 4));
        std::mt19937 random(t);
        for (int n = 0; !server_gone.load(); ++n) {
          Order order{absl::StrCat("t", t, "-", n), {}};
          const int line_count = 1 + static_cast<int>(random() % 3);
          const int first = static_cast<int>(random() % kProducts);
          for (int l = 0; l < line_count; ++l) {
            order.lines.push_back(
                {ProductName((first + l) % kProducts), 1 + static_cast<int>(random() % 5)});
          }
          grpc::ClientContext context;
          context.set_deadline(DeadlineIn(absl::Seconds(10)));
          inventory::ReserveStockResponse response;
          grpc::Status status = stub->ReserveStock(
              &context, testing_util::ReserveStockRequestFor(order.id, order.lines), &response);
          absl::MutexLock lock(&mu);
          if (status.ok()) {
            acknowledged.push_back(std::move(order));
            ++acks;
          } else {
            unknown.push_back(std::move(order));
            if (status.error_code() != grpc::StatusCode::UNAVAILABLE) {
              FAIL_CHECK("unexpected status " << status.error_code() << ": "
                                              << status.error_message());
            }
            return;  // the server is gone
          }
        }
      });
    }
    REQUIRE(testing_util::WaitUntil([&] { return acks.load() >= 3000; }));
    const int status = server.Signal(SIGKILL);
    CHECK(WIFSIGNALED(status));
    server_gone = true;
    for (std::thread& client : clients) client.join();
  }
  INFO(acknowledged.size() << " acknowledged, " << unknown.size() << " unanswered at the kill");
  REQUIRE(acknowledged.size() >= 3000);

  // Phase 2: restart on the same directory and account for every order.
  ServerProcess server(data_dir, catalog, root.Path("second.log"));
  CHECK_THAT(server.Log(), Catch::Contains("orders from"));
  auto stub = InventoryService::NewStub(testing_util::LoopbackChannel(server.port()));
  // A release of an order that exists succeeds; NOT_FOUND means it is not there.
  const auto release = [&](const Order& order) { return testing_util::Release(*stub, order.id); };
  std::map<std::string, long> reserved;  // product -> units held by existing orders
  std::size_t acknowledged_missing = 0;
  for (const Order& order : acknowledged) {
    if (!release(order).ok()) {
      ++acknowledged_missing;  // an acknowledged reservation was lost
      continue;
    }
    for (const auto& [product, quantity] : order.lines) reserved[product] += quantity;
  }
  CHECK(acknowledged_missing == 0);
  for (const Order& order : unknown) {
    grpc::Status status = release(order);
    CHECK((status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND));
  }
  // Every existing order is now released: stock is back where it started,
  // so nothing was taken that no order accounts for.
  inventory::BatchGetProductAvailabilityRequest all;
  for (int i = 0; i < kProducts; ++i) all.add_product_ids(ProductName(i));
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(absl::Seconds(10)));
  inventory::BatchGetProductAvailabilityResponse levels;
  REQUIRE(stub->BatchGetProductAvailability(&context, all, &levels).ok());
  for (const auto& item : levels.items()) {
    CAPTURE(item.product_id());
    CHECK(item.quantity() == kInitialStock);
  }
  long total_reserved = 0;
  for (const auto& [product, units] : reserved) total_reserved += units;
  CHECK(total_reserved > 0);

  const int status = server.Signal(SIGTERM);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
