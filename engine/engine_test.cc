// The engine's ugly paths, against a real server on an ephemeral loopback
// port and real gRPC clients: slot reuse, late and dropped answers, bad
// payloads, cancellation, deadlines, ok=false completions in every state,
// and shutdown with calls and streams in flight.
#include "engine/engine.h"

#include <grpc/support/time.h>
#include <grpcpp/alarm.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <deque>
#include <future>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "engine_test.grpc.pb.h"
#include "test/engine_test_server.h"
#include "test/loopback.h"
#include "test/test_util.h"

namespace {

using enginetest::Message;
using enginetest::TestService;
using testing_util::DeadlineIn;
using testing_util::EngineTestServer;
using testing_util::WaitUntil;

using Responder = engine::UnaryResponder<Message>;

constexpr char kUnaryMethod[] = "enginetest.TestService/Unary";
constexpr char kStreamMethod[] = "enginetest.TestService/Stream";
using Source = engine::StreamSource<Message>;

void Echo(Responder responder, const Message& request) {
  responder.response().set_text(request.text());
  responder.Finish();
}

engine::EngineOptions Options(int queues, int requests_per_method,
                              absl::Duration drain = absl::Seconds(5)) {
  engine::EngineOptions options;
  options.completion_queues = queues;
  options.requests_per_method = requests_per_method;
  options.drain_deadline = drain;
  return options;
}

// Responders a handler hands over for the test to answer later.
class ParkedCalls {
 public:
  void Park(Responder responder) {
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::move(responder));
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return calls_.size();
  }
  bool AllCancelled() {
    absl::MutexLock lock(&mu_);
    for (Responder& call : calls_) {
      if (!call.IsCancelled()) return false;
    }
    return true;
  }
  void FinishAll(const absl::Status& status, const std::string& text = "") {
    std::deque<Responder> calls;
    {
      absl::MutexLock lock(&mu_);
      calls.swap(calls_);
    }
    for (Responder& call : calls) {
      call.response().set_text(text);
      call.Finish(status);
    }
  }

 private:
  absl::Mutex mu_;
  std::deque<Responder> calls_ ABSL_GUARDED_BY(mu_);
};

// Parks every call while `park` is set, and echoes once it is cleared.
engine::UnaryHandler<Message, Message> ParkWhile(ParkedCalls& parked, std::atomic<bool>& park) {
  return [&parked, &park](Responder responder, const Message& request) {
    if (park) {
      parked.Park(std::move(responder));
    } else {
      Echo(std::move(responder), request);
    }
  };
}

// Starts a unary call with the callback API; the future holds its status.
struct PendingCall {
  grpc::ClientContext context;
  Message request;
  Message response;
  std::promise<grpc::Status> done;
};
std::future<grpc::Status> StartUnary(TestService::Stub& stub, PendingCall& call,
                                     const std::string& text) {
  call.request.set_text(text);
  stub.async()->Unary(&call.context, &call.request, &call.response,
                      [&call](grpc::Status status) { call.done.set_value(status); });
  return call.done.get_future();
}

}  // namespace

TEST_CASE("unary calls reuse pooled slots; the pool grows only with concurrency", "[engine]") {
  EngineTestServer server(Options(2, 2), Echo);
  const engine::EngineStats before = server.engine().Stats();
  CHECK(before.slots == 2 * 2 * 2);  // queues x requests per method x methods
  CHECK(before.requests_posted == before.slots);

  for (int i = 0; i < 100; ++i) {
    grpc::ClientContext context;
    Message request, response;
    request.set_text("call " + std::to_string(i));
    REQUIRE(server.stub().Unary(&context, request, &response).ok());
    REQUIRE(response.text() == request.text());
  }
  std::vector<std::thread> clients;
  std::atomic<int> ok_calls{0};
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      auto stub = TestService::NewStub(testing_util::LoopbackChannel(server.port(), t));
      for (int i = 0; i < 50; ++i) {
        grpc::ClientContext context;
        // Slow (sanitized) runs can see a connection attempt fail once; this
        // test is about slots, so calls wait for the channel instead.
        context.set_wait_for_ready(true);
        context.set_deadline(DeadlineIn(absl::Seconds(60)));
        Message request, response;
        request.set_text(std::to_string(t * 1000 + i));
        if (stub->Unary(&context, request, &response).ok() && response.text() == request.text()) {
          ++ok_calls;
        }
      }
    });
  }
  for (auto& client : clients) client.join();
  CHECK(ok_calls == 400);

  REQUIRE(WaitUntil([&] { return server.engine().Stats().requests_posted == before.slots; }));
  const engine::EngineStats after = server.engine().Stats();
  CHECK(after.calls_started == 500);
  CHECK(after.finishes_ok == 500);
  CHECK(after.handlers_running == 0);
  // 500 calls; at most 8 at once (one per client thread) on top of the 8
  // requests kept posted. A slot is free again only once its Finish and
  // done completions are handled, which a slow (sanitized, loaded) run may
  // see after the client's next call has arrived, so a client can hold a
  // finishing slot or two beside its new one. Without reuse the pool would
  // have grown by about 500.
  CHECK(after.slots >= before.slots);
  CHECK(after.slots <= before.slots + 3 * 8);
  CHECK(server.engine().MethodStats(kUnaryMethod).calls_started == 500);
  CHECK(server.engine().MethodStats(kStreamMethod).calls_started == 0);
  CHECK(server.engine().MethodStats(kStreamMethod).slots == 2 * 2);
}

TEST_CASE("calls held by slow handlers never stop new calls from being accepted", "[engine]") {
  // Two requests posted per queue, but twenty calls parked at once: each
  // matched request is replaced at once from the pool.
  ParkedCalls parked;
  EngineTestServer server(Options(1, 2), [&](Responder responder, const Message&) {
    parked.Park(std::move(responder));
  });
  std::vector<std::unique_ptr<PendingCall>> calls;
  std::vector<std::future<grpc::Status>> results;
  for (int i = 0; i < 20; ++i) {
    calls.push_back(std::make_unique<PendingCall>());
    results.push_back(StartUnary(server.stub(), *calls.back(), "parked"));
  }
  REQUIRE(WaitUntil([&] { return parked.size() == 20; }));
  const engine::EngineStats held = server.engine().Stats();
  CHECK(held.handlers_running == 20);
  CHECK(held.requests_posted == 2 + 2);  // still posted ahead, both methods
  parked.FinishAll(absl::OkStatus(), "done");
  for (auto& result : results) CHECK(result.get().ok());
  // The grown slots stay for reuse; posted requests go back to the target.
  REQUIRE(WaitUntil([&] { return server.engine().Stats().requests_posted == 4; }));
  CHECK(server.engine().Stats().slots == 20 + 2 + 2);
}

TEST_CASE("max_call_slots bounds the pool; past it calls wait until a slot frees", "[engine]") {
  ParkedCalls parked;
  std::atomic<bool> park{true};
  engine::EngineOptions options = Options(1, 2);
  options.max_call_slots = 6;  // 2 + 2 posted at start, room for 2 more
  EngineTestServer server(options, ParkWhile(parked, park));
  std::vector<std::unique_ptr<PendingCall>> calls;
  std::vector<std::future<grpc::Status>> results;
  for (int i = 0; i < 6; ++i) {
    calls.push_back(std::make_unique<PendingCall>());
    results.push_back(StartUnary(server.stub(), *calls.back(), std::to_string(i)));
  }
  // Unary has 2 posted + 2 grown = 4 slots: four calls reach the handler, the
  // other two wait inside gRPC.
  REQUIRE(WaitUntil([&] { return parked.size() == 4; }));
  absl::SleepFor(absl::Milliseconds(200));
  CHECK(parked.size() == 4);
  CHECK(server.engine().Stats().slots == 6);
  park = false;
  parked.FinishAll(absl::OkStatus(), "freed");
  for (auto& result : results) CHECK(result.get().ok());
  CHECK(server.engine().Stats().slots == 6);
}

TEST_CASE("one connection cannot hold more than max_calls_per_peer calls", "[engine]") {
  ParkedCalls parked;
  engine::EngineOptions options = Options(2, 2);
  options.max_calls_per_peer = 3;
  EngineTestServer server(
      options, [&](Responder responder, const Message&) { parked.Park(std::move(responder)); });
  std::vector<std::unique_ptr<PendingCall>> calls;
  std::vector<std::future<grpc::Status>> results;
  for (int i = 0; i < 5; ++i) {
    calls.push_back(std::make_unique<PendingCall>());
    results.push_back(StartUnary(server.stub(), *calls.back(), "greedy"));
  }
  // Three reach the handler; the other two are answered at once.
  int shed = 0;
  for (int i = 0; i < 5; ++i) {
    if (results[i].wait_for(std::chrono::seconds(10)) != std::future_status::ready) continue;
    grpc::Status status = results[i].get();
    CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK_THAT(status.error_message(), Catch::Contains("the limit per connection is 3"));
    ++shed;
  }
  CHECK(shed == 2);
  CHECK(parked.size() == 3);
  CHECK(server.engine().Stats().shed == 2);

  // Another connection is served meanwhile.
  auto other = TestService::NewStub(testing_util::LoopbackChannel(server.port(), 7));
  PendingCall fair;
  std::future<grpc::Status> fair_result = StartUnary(*other, fair, "fair");
  REQUIRE(WaitUntil([&] { return parked.size() == 4; }));
  parked.FinishAll(absl::OkStatus(), "ok");
  CHECK(fair_result.get().ok());
  for (int i = 0; i < 5; ++i) {
    if (results[i].valid()) CHECK(results[i].get().ok());
  }
}

TEST_CASE("a method's max_in_flight sheds further streams with a status at once",
          "[engine][stream]") {
  // Sources that never end, until the test ends them by shutting down.
  class Idle final : public Source {
   public:
    engine::StreamStep Next(Message&) override { return engine::StreamStep::kWait; }
  };
  engine::Engine engine(Options(1, 1));
  engine.AddService<TestService>()
      .Unary(&TestService::AsyncService::RequestUnary, Echo)
      .ServerStream(
          &TestService::AsyncService::RequestStream,
          [](engine::StreamWaker, const Message&) -> absl::StatusOr<std::unique_ptr<Source>> {
            return std::make_unique<Idle>();
          },
          {.requests_posted = 1, .max_in_flight = 2});
  absl::StatusOr<int> port = engine.Start("127.0.0.1:0");
  REQUIRE(port.ok());
  auto stub = TestService::NewStub(testing_util::LoopbackChannel(*port));
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<Message>>> readers;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    readers.push_back(stub->Stream(contexts.back().get(), Message()));
  }
  REQUIRE(WaitUntil([&] { return engine.Stats().calls_started == 2; }));
  grpc::ClientContext third_context;
  third_context.set_deadline(DeadlineIn(absl::Seconds(10)));
  auto third = stub->Stream(&third_context, Message());
  Message message;
  CHECK_FALSE(third->Read(&message));
  grpc::Status status = third->Finish();
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_THAT(status.error_message(), Catch::Contains("limit of 2 calls of this method"));
  engine.Shutdown();
  for (auto& reader : readers)
    CHECK(reader->Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("a handler may finish its call later from another thread", "[engine]") {
  ParkedCalls parked;
  EngineTestServer server(Options(1, 4), [&](Responder responder, const Message&) {
    parked.Park(std::move(responder));
  });
  PendingCall call;
  auto status = StartUnary(server.stub(), call, "hello");
  REQUIRE(WaitUntil([&] { return parked.size() == 1; }));
  std::thread finisher([&] { parked.FinishAll(absl::OkStatus(), "answered later"); });
  finisher.join();
  REQUIRE(status.get().ok());
  CHECK(call.response.text() == "answered later");
}

TEST_CASE("a responder dropped without an answer gives INTERNAL, not a hung call", "[engine]") {
  EngineTestServer server(Options(1, 1), [](Responder, const Message&) {});
  for (int i = 0; i < 3; ++i) {  // one slot: it must be recycled each time
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Seconds(30)));
    Message request, response;
    grpc::Status status = server.stub().Unary(&context, request, &response);
    CHECK(status.error_code() == grpc::StatusCode::INTERNAL);
    CHECK_THAT(status.error_message(), Catch::Contains("without answering"));
  }
}

TEST_CASE("an error status is sent without a response body", "[engine]") {
  EngineTestServer server(Options(1, 1), [](Responder responder, const Message&) {
    responder.response().set_text("must not be sent");
    responder.Finish(absl::FailedPreconditionError("not today"));
  });
  grpc::ClientContext context;
  Message request, response;
  grpc::Status status = server.stub().Unary(&context, request, &response);
  CHECK(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(status.error_message() == "not today");
  CHECK(response.text().empty());
}

TEST_CASE("a payload that does not parse gets INVALID_ARGUMENT before any handler runs",
          "[engine]") {
  std::atomic<int> handled{0};
  EngineTestServer server(Options(1, 1), [&](Responder responder, const Message& request) {
    ++handled;
    Echo(std::move(responder), request);
  });
  grpc::ClientContext context;
  Message request, response;
  request.set_text("\xff\xfe not UTF-8");  // proto3 strings must be UTF-8
  grpc::Status status = server.stub().Unary(&context, request, &response);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::Contains("enginetest.Message"));
  CHECK(handled == 0);
  CHECK(server.engine().Stats().bad_requests == 1);
}

TEST_CASE("the authorizer refuses guarded calls before parsing and handlers; others pass",
          "[engine]") {
  // Guards only Unary: lets a call through when it carries "x-key: open",
  // and names its "x-who" (if any) as the principal.
  class KeyCheck final : public engine::MethodAuthorizer {
   public:
    absl::Status Authorize(grpc::ServerContext& context, std::string* principal) const override {
      ++asked;
      CHECK(principal->empty());
      auto who = context.client_metadata().find("x-who");
      if (who != context.client_metadata().end()) {
        *principal = std::string(who->second.data(), who->second.size());
      }
      auto key = context.client_metadata().find("x-key");
      if (key == context.client_metadata().end()) return absl::UnauthenticatedError("no key");
      if (key->second != "open") return absl::PermissionDeniedError("wrong key");
      return absl::OkStatus();
    }
    mutable std::atomic<int> asked{0};
  };
  class Guard final : public engine::CallAuthorizer {
   public:
    const engine::MethodAuthorizer* ForMethod(const std::string& method) override {
      methods.push_back(method);
      return method == kUnaryMethod ? &check : nullptr;
    }
    KeyCheck check;
    std::vector<std::string> methods;
  };
  Guard guard;
  engine::EngineOptions options = Options(1, 2);
  options.authorizer = &guard;
  std::atomic<int> handled{0};
  EngineTestServer server(
      options,
      [&](Responder responder, const Message& request) {
        ++handled;
        // The handler sees whom the check named: "<principal>|<text>".
        responder.response().set_text(absl::StrCat(responder.principal(), "|", request.text()));
        responder.Finish();
      },
      [](engine::StreamWaker, const Message&) -> absl::StatusOr<std::unique_ptr<Source>> {
        return absl::NotFoundError("streams are not guarded");
      });
  CHECK_THAT(guard.methods,
             Catch::UnorderedEquals(std::vector<std::string>{kUnaryMethod, kStreamMethod}));
  auto call = [&](const char* key, const std::string& text, const char* who = nullptr) {
    grpc::ClientContext context;
    if (key != nullptr) context.AddMetadata("x-key", key);
    if (who != nullptr) context.AddMetadata("x-who", who);
    Message request, response;
    request.set_text(text);
    grpc::Status status = server.stub().Unary(&context, request, &response);
    return std::make_pair(status, response.text());
  };
  CHECK(call(nullptr, "a").first.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  // A refused call's principal is not kept for the slot's next call.
  CHECK(call("shut", "b", "mallory").first.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  // Refused before the payload is parsed: not INVALID_ARGUMENT, not counted bad.
  CHECK(call(nullptr, "\xff not UTF-8").first.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(handled == 0);
  auto [status, text] = call("open", "hello");
  CHECK(status.ok());
  CHECK(text == "|hello");
  CHECK(handled == 1);
  auto [named_status, named_text] = call("open", "again", "alice");
  CHECK(named_status.ok());
  CHECK(named_text == "alice|again");
  CHECK(call("open", "anon").second == "|anon");
  CHECK(handled == 3);
  CHECK(guard.check.asked == 6);
  CHECK(server.engine().Stats().denied == 3);
  CHECK(server.engine().Stats().bad_requests == 0);
  CHECK(server.engine().MethodStats(kUnaryMethod).denied == 3);
  // The stream is not guarded: its handler runs without any key.
  grpc::ClientContext stream_context;
  auto reader = server.stub().Stream(&stream_context, Message());
  Message message;
  CHECK_FALSE(reader->Read(&message));
  CHECK(reader->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(guard.check.asked == 6);
}

TEST_CASE("client cancellation reaches the handler; the late Finish completes ok=false",
          "[engine]") {
  ParkedCalls parked;
  std::atomic<bool> park_calls{true};
  EngineTestServer server(Options(1, 1), ParkWhile(parked, park_calls));
  PendingCall call;
  auto status = StartUnary(server.stub(), call, "cancel me");
  REQUIRE(WaitUntil([&] { return parked.size() == 1; }));
  call.context.TryCancel();
  CHECK(status.get().error_code() == grpc::StatusCode::CANCELLED);
  REQUIRE(WaitUntil([&] { return parked.AllCancelled(); }));
  CHECK(server.engine().Stats().cancelled == 1);

  parked.FinishAll(absl::OkStatus());
  REQUIRE(WaitUntil([&] { return server.engine().Stats().finishes_failed == 1; }));

  // The only slot came back: a new call is served.
  park_calls = false;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(absl::Seconds(30)));
  Message request, response;
  request.set_text("after cancel");
  REQUIRE(server.stub().Unary(&context, request, &response).ok());
  CHECK(response.text() == "after cancel");
}

TEST_CASE("an expired deadline cancels the call on the server and frees the slot", "[engine]") {
  ParkedCalls parked;
  std::atomic<bool> park_calls{true};
  EngineTestServer server(Options(1, 1), ParkWhile(parked, park_calls));
  {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Milliseconds(200)));
    Message request, response;
    grpc::Status status = server.stub().Unary(&context, request, &response);
    CHECK(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  REQUIRE(parked.size() == 1);
  REQUIRE(WaitUntil([&] { return parked.AllCancelled(); }));
  parked.FinishAll(absl::OkStatus());
  park_calls = false;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(absl::Seconds(30)));
  Message request, response;
  REQUIRE(server.stub().Unary(&context, request, &response).ok());
  // The client can see the answer before the queue thread counts the Finish.
  REQUIRE(WaitUntil([&] { return server.engine().Stats().finishes_ok == 1; }));
  const engine::EngineStats stats = server.engine().Stats();
  CHECK(stats.cancelled == 1);
  CHECK(stats.finishes_failed == 1);
  CHECK(stats.finishes_ok == 1);
}

TEST_CASE("without cancellation watching, a call past its deadline still frees its slot",
          "[engine]") {
  ParkedCalls parked;
  std::atomic<bool> park_calls{true};
  EngineTestServer server(Options(1, 1), ParkWhile(parked, park_calls), EngineTestServer::NoStream,
                          {.requests_posted = 1, .watch_cancellation = false});
  {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Milliseconds(200)));
    Message request, response;
    CHECK(server.stub().Unary(&context, request, &response).error_code() ==
          grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  REQUIRE(parked.size() == 1);
  CHECK_FALSE(parked.AllCancelled());  // not watched: the handler is not told
  parked.FinishAll(absl::OkStatus());
  // The Finish tag comes back either way: ok=false if the server had already
  // processed the deadline, ok=true if the answer raced ahead of it.
  REQUIRE(WaitUntil([&] {
    engine::EngineStats stats = server.engine().Stats();
    return stats.finishes_failed + stats.finishes_ok == 1;
  }));
  park_calls = false;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(absl::Seconds(30)));
  Message request, response;
  request.set_text("slot is back");
  REQUIRE(server.stub().Unary(&context, request, &response).ok());
  CHECK(response.text() == "slot is back");
  CHECK(server.engine().Stats().cancelled == 0);
}

TEST_CASE("at shutdown every posted request completes ok=false and retires its slot",
          "[engine][shutdown]") {
  EngineTestServer server(Options(2, 16), Echo);
  const std::int64_t slots = server.engine().Stats().slots;
  REQUIRE(slots == 2 * 16 * 2);
  server.engine().Shutdown();
  const engine::EngineStats stats = server.engine().Stats();
  CHECK(stats.requests_failed == slots);
  CHECK(stats.slots_retired == slots);
  CHECK(stats.requests_posted == 0);
  CHECK(stats.calls_started == 0);
  server.engine().Shutdown();  // idempotent
}

TEST_CASE("shutdown cancels calls still in handlers after the drain deadline",
          "[engine][shutdown]") {
  ParkedCalls parked;
  EngineTestServer server(
      Options(2, 8, absl::Milliseconds(300)),
      [&](Responder responder, const Message&) { parked.Park(std::move(responder)); });
  constexpr int kCalls = 12;
  std::vector<std::unique_ptr<PendingCall>> calls;
  std::vector<std::future<grpc::Status>> statuses;
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(std::make_unique<PendingCall>());
    statuses.push_back(StartUnary(server.stub(), *calls.back(), "parked"));
  }
  REQUIRE(WaitUntil([&] { return parked.size() == kCalls; }));
  // A well-behaved handler: it answers as soon as it sees the cancellation.
  std::thread handler([&] {
    WaitUntil([&] { return parked.AllCancelled(); });
    parked.FinishAll(absl::OkStatus());
  });
  server.engine().Shutdown();
  handler.join();
  for (auto& status : statuses) {
    grpc::StatusCode code = status.get().error_code();
    CHECK((code == grpc::StatusCode::CANCELLED || code == grpc::StatusCode::UNAVAILABLE));
  }
  const engine::EngineStats stats = server.engine().Stats();
  CHECK(stats.cancelled == kCalls);
  CHECK(stats.finishes_ok + stats.finishes_failed == kCalls);
  CHECK(stats.abandoned == 0);
  CHECK(stats.handlers_running == 0);
  CHECK(stats.slots_retired == stats.slots);
}

TEST_CASE("a handler that answers after shutdown finished is dropped safely",
          "[engine][shutdown]") {
  ParkedCalls parked;
  EngineTestServer server(
      Options(1, 2, absl::Milliseconds(100)),
      [&](Responder responder, const Message&) { parked.Park(std::move(responder)); });
  PendingCall call;
  auto status = StartUnary(server.stub(), call, "never answered in time");
  REQUIRE(WaitUntil([&] { return parked.size() == 1; }));
  server.engine().Shutdown();
  grpc::StatusCode code = status.get().error_code();
  CHECK((code == grpc::StatusCode::CANCELLED || code == grpc::StatusCode::UNAVAILABLE));
  parked.FinishAll(absl::OkStatus());  // queues are closed: must not crash
  CHECK(server.engine().Stats().abandoned == 1);
}

namespace {

// A stream source fed by the test: messages are pushed from the test thread
// and Wake() tells the engine to pull them.
struct FeedState {
  absl::Mutex mu;
  std::deque<std::string> pending ABSL_GUARDED_BY(mu);
  bool end ABSL_GUARDED_BY(mu) = false;
  engine::StreamWaker waker ABSL_GUARDED_BY(mu);
  int opened ABSL_GUARDED_BY(mu) = 0;
  int closed ABSL_GUARDED_BY(mu) = 0;
  int closed_cancelled ABSL_GUARDED_BY(mu) = 0;

  void Push(std::string text) {
    absl::MutexLock lock(&mu);
    pending.push_back(std::move(text));
    waker.Wake();  // Wake may be called with the producer's own lock held
  }
  void End() {
    absl::MutexLock lock(&mu);
    end = true;
    waker.Wake();
  }
  int Closed() {
    absl::MutexLock lock(&mu);
    return closed;
  }
  int ClosedCancelled() {
    absl::MutexLock lock(&mu);
    return closed_cancelled;
  }
  int Opened() {
    absl::MutexLock lock(&mu);
    return opened;
  }
};

class FeedSource : public Source {
 public:
  explicit FeedSource(FeedState* state) : state_(state) {}
  engine::StreamStep Next(Message& message) override {
    absl::MutexLock lock(&state_->mu);
    if (!state_->pending.empty()) {
      message.set_text(state_->pending.front());
      state_->pending.pop_front();
      return engine::StreamStep::kSend;
    }
    return state_->end ? engine::StreamStep::kFinish : engine::StreamStep::kWait;
  }
  void OnClosed(bool cancelled) override {
    absl::MutexLock lock(&state_->mu);
    ++state_->closed;
    if (cancelled) ++state_->closed_cancelled;
  }

 private:
  FeedState* state_;
};

engine::ServerStreamHandler<Message, Message> FeedHandler(FeedState* state) {
  return [state](engine::StreamWaker waker,
                 const Message& request) -> absl::StatusOr<std::unique_ptr<Source>> {
    if (request.text() == "reject") return absl::InvalidArgumentError("rejected by handler");
    absl::MutexLock lock(&state->mu);
    state->waker = waker;
    ++state->opened;
    for (int i = 0; i < request.count(); ++i) state->pending.push_back("hello");
    return std::make_unique<FeedSource>(state);
  };
}

}  // namespace

TEST_CASE("a stream sends what its source produces, woken from another thread",
          "[engine][stream]") {
  FeedState feed;
  EngineTestServer server(Options(1, 2), Echo, FeedHandler(&feed));
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(absl::Seconds(30)));
  Message request;
  request.set_count(2);
  auto reader = server.stub().Stream(&context, request);
  Message message;
  REQUIRE(reader->Read(&message));
  CHECK(message.text() == "hello");
  REQUIRE(reader->Read(&message));
  std::thread producer([&] {
    for (int i = 0; i < 50; ++i) feed.Push(std::to_string(i));
    feed.End();
  });
  for (int i = 0; i < 50; ++i) {
    REQUIRE(reader->Read(&message));
    CHECK(message.text() == std::to_string(i));
  }
  producer.join();
  CHECK_FALSE(reader->Read(&message));
  CHECK(reader->Finish().ok());
  REQUIRE(WaitUntil([&] { return feed.Closed() == 1; }));
  CHECK(feed.ClosedCancelled() == 0);
}

TEST_CASE("a stream handler's error ends the call with that status", "[engine][stream]") {
  FeedState feed;
  EngineTestServer server(Options(1, 1), Echo, FeedHandler(&feed));
  grpc::ClientContext context;
  Message request, message;
  request.set_text("reject");
  auto reader = server.stub().Stream(&context, request);
  CHECK_FALSE(reader->Read(&message));
  grpc::Status status = reader->Finish();
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() == "rejected by handler");
}

TEST_CASE("cancelling mid-stream closes the source and recycles the slot", "[engine][stream]") {
  FeedState feed;
  EngineTestServer server(Options(1, 1), Echo, FeedHandler(&feed));
  for (int round = 1; round <= 3; ++round) {  // one slot: each round needs it back
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Seconds(30)));
    Message request, message;
    request.set_count(1);
    auto reader = server.stub().Stream(&context, request);
    REQUIRE(reader->Read(&message));
    context.TryCancel();
    CHECK(reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
    REQUIRE(WaitUntil([&] { return feed.ClosedCancelled() == round; }));
  }
  REQUIRE(WaitUntil([&] { return server.engine().Stats().requests_posted == 2; }));
  CHECK(server.engine().Stats().cancelled == 3);
}

namespace {

// Never runs dry: with a reader that stops reading, flow control leaves one
// write pending until the stream dies.
class FloodSource : public Source {
 public:
  explicit FloodSource(std::atomic<int>* closed_cancelled) : closed_cancelled_(closed_cancelled) {}
  engine::StreamStep Next(Message& message) override {
    message.set_payload(std::string(256 * 1024, 'x'));
    return engine::StreamStep::kSend;
  }
  void OnClosed(bool cancelled) override {
    if (cancelled) ++*closed_cancelled_;
  }

 private:
  std::atomic<int>* closed_cancelled_;
};

}  // namespace

TEST_CASE("a write pending when the client goes away completes ok=false", "[engine][stream]") {
  std::atomic<int> closed_cancelled{0};
  EngineTestServer server(
      Options(1, 1), Echo,
      [&](engine::StreamWaker, const Message&) -> absl::StatusOr<std::unique_ptr<Source>> {
        return std::make_unique<FloodSource>(&closed_cancelled);
      });
  grpc::ClientContext context;
  Message request, message;
  auto reader = server.stub().Stream(&context, request);
  REQUIRE(reader->Read(&message));
  // Wait until the server is stuck on flow control: writes stop completing.
  std::int64_t last = -1;
  REQUIRE(WaitUntil([&] {
    std::int64_t now = server.engine().Stats().writes_ok;
    absl::SleepFor(absl::Milliseconds(100));
    bool stalled = now == last && now == server.engine().Stats().writes_ok;
    last = now;
    return stalled;
  }));
  context.TryCancel();
  reader->Finish();
  REQUIRE(WaitUntil([&] { return server.engine().Stats().writes_failed == 1; }));
  REQUIRE(WaitUntil([&] { return closed_cancelled == 1; }));
  REQUIRE(WaitUntil([&] { return server.engine().Stats().requests_posted == 2; }));
}

TEST_CASE("shutdown ends open streams with UNAVAILABLE instead of waiting for the deadline",
          "[engine][stream][shutdown]") {
  FeedState feed;
  // A drain deadline far longer than any test: only the engine's own flush
  // can end these streams with UNAVAILABLE; the deadline would give CANCELLED.
  EngineTestServer server(Options(2, 4, absl::Seconds(120)), Echo, FeedHandler(&feed));
  constexpr int kStreams = 3;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<Message>>> readers;
  for (int i = 0; i < kStreams; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    Message request;
    request.set_count(1);
    readers.push_back(server.stub().Stream(contexts.back().get(), request));
    Message message;
    REQUIRE(readers.back()->Read(&message));
  }
  server.engine().Shutdown();
  for (auto& reader : readers) {
    Message message;
    while (reader->Read(&message)) {
    }
    grpc::Status status = reader->Finish();
    CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK_THAT(status.error_message(), Catch::Contains("shutting down"));
  }
  CHECK(feed.Closed() == kStreams);
  CHECK(server.engine().Stats().slots_retired == server.engine().Stats().slots);
}

TEST_CASE("engine options and listen addresses are validated", "[engine]") {
  CHECK(engine::ValidateEngineOptions(Options(-1, 1)).code() == absl::StatusCode::kInvalidArgument);
  CHECK(engine::ValidateEngineOptions(Options(1, 0)).code() == absl::StatusCode::kInvalidArgument);
  CHECK(engine::ValidateEngineOptions(Options(0, 512)).ok());
  CHECK(engine::UsableCpuCount() >= 1);

  EngineTestServer first(Options(1, 1), Echo);
  engine::Engine second(Options(1, 1));
  second.AddService<TestService>()
      .Unary(&TestService::AsyncService::RequestUnary, Echo)
      .Unimplemented(&TestService::AsyncService::RequestStream);
  absl::StatusOr<int> port = second.Start("127.0.0.1:" + std::to_string(first.port()));
  REQUIRE_FALSE(port.ok());
  CHECK_THAT(std::string(port.status().message()), Catch::Contains("could not listen"));
}

// Completes a grpc::Alarm set on one of the engine's queues, the way a client
// sharing those queues would see its own events.
class AlarmProbe final : public engine::CompletionHandler {
 public:
  void Set(grpc::CompletionQueue* cq) {
    alarm_.Set(cq, gpr_now(GPR_CLOCK_MONOTONIC), tag_.ToCompletionQueueTag());
  }
  bool WaitDelivered(absl::Duration limit) {
    return delivered_.WaitForNotificationWithTimeout(limit);
  }
  void OnCompletion(engine::CompletionKind, bool ok) override {
    ok_ = ok;
    delivered_.Notify();
  }
  bool ok() const { return ok_; }

 private:
  engine::Tag tag_{this, engine::CompletionKind::kWake};
  grpc::Alarm alarm_;
  std::atomic<bool> ok_{false};
  absl::Notification delivered_;
};

TEST_CASE("engine: queues exist from construction, before Start and without it", "[engine]") {
  engine::Engine never_started(Options(3, 1));
  const std::vector<grpc::CompletionQueue*> queues = never_started.completion_queues();
  REQUIRE(queues.size() == 3);
  for (grpc::CompletionQueue* queue : queues) CHECK(queue != nullptr);
  // Bad options make no queues; Start() names the problem.
  engine::Engine invalid(Options(1, 0));
  CHECK(invalid.completion_queues().empty());
  CHECK(invalid.Start("127.0.0.1:0").status().code() == absl::StatusCode::kInvalidArgument);
  // Start() runs once.
  CHECK(invalid.Start("127.0.0.1:0").status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE(
    "engine: RunBeforeQueuesClose hooks run after in-flight calls end, while the queues still "
    "deliver events",
    "[engine][shutdown]") {
  ParkedCalls parked;
  EngineTestServer server(Options(2, 4), [&](Responder responder, const Message&) {
    parked.Park(std::move(responder));
  });
  std::atomic<int> hook_runs{0};
  std::atomic<std::int64_t> handlers_at_hook{-1};
  std::atomic<bool> event_delivered_in_hook{false};
  server.engine().RunBeforeQueuesClose([&] {
    handlers_at_hook = server.engine().Stats().handlers_running;
    AlarmProbe probe;
    probe.Set(server.engine().completion_queues()[1]);
    event_delivered_in_hook = probe.WaitDelivered(absl::Seconds(30)) && probe.ok();
    ++hook_runs;
  });
  std::future<grpc::Status> call = std::async(std::launch::async, [&] {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Seconds(60)));
    Message request, response;
    request.set_text("in flight");
    return server.stub().Unary(&context, request, &response);
  });
  REQUIRE(WaitUntil([&] { return parked.size() == 1; }));
  std::thread shutdown([&] { server.engine().Shutdown(); });
  absl::SleepFor(absl::Milliseconds(50));
  CHECK(hook_runs == 0);  // the call is still being handled
  parked.FinishAll(absl::OkStatus(), "answered during shutdown");
  shutdown.join();
  CHECK(call.get().ok());
  CHECK(hook_runs == 1);
  CHECK(handlers_at_hook == 0);
  CHECK(event_delivered_in_hook);
  server.engine().Shutdown();  // idempotent: the hook does not run again
  CHECK(hook_runs == 1);
}
