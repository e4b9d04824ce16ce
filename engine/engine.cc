#include "engine/engine.h"

#include <grpc/support/time.h>
#include <grpcpp/alarm.h>
#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "engine/write_coalescing.h"

namespace engine {
namespace {

// Set on queue threads so Shutdown can refuse to run on one.
thread_local bool on_queue_thread = false;

}  // namespace

// Fires on one queue once every event queued before it has been handled.
class Engine::QueueBarrier final : public CompletionHandler {
 public:
  void Arm(internal::QueueContext& queue) {
    bool armed = queue.StartIfOpen(
        [&] { alarm_.Set(queue.cq(), gpr_now(GPR_CLOCK_MONOTONIC), tag_.ToCompletionQueueTag()); });
    if (!armed) passed_.Notify();
  }
  bool Wait(absl::Duration limit) { return passed_.WaitForNotificationWithTimeout(limit); }
  void OnCompletion(CompletionKind, bool) override { passed_.Notify(); }

 private:
  Tag tag_{this, CompletionKind::kWake};
  grpc::Alarm alarm_;
  absl::Notification passed_;
};

int UsableCpuCount() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  unsigned hardware = std::thread::hardware_concurrency();
  return hardware > 0 ? static_cast<int>(hardware) : 1;
}

absl::Status ValidateEngineOptions(const EngineOptions& options) {
  if (options.completion_queues < 0 || options.completion_queues > 256) {
    return absl::InvalidArgumentError(absl::StrCat(
        "completion_queues must be between 0 (auto) and 256, got ", options.completion_queues));
  }
  if (options.requests_per_method < 1 || options.requests_per_method > 100000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "requests_per_method must be between 1 and 100000, got ", options.requests_per_method));
  }
  if (options.max_call_slots < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_call_slots must be at least 1, got ", options.max_call_slots));
  }
  if (options.max_calls_per_peer < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_calls_per_peer must be 0 (no limit) or more, got ", options.max_calls_per_peer));
  }
  if (options.drain_deadline < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("drain_deadline must not be negative, got ",
                                                   absl::FormatDuration(options.drain_deadline)));
  }
  return absl::OkStatus();
}

Engine::Engine(EngineOptions options) : options_(options) {
  if (options_.completion_queues == 0) options_.completion_queues = UsableCpuCount();
  // Made now rather than in Start() so that clients can be set up on them
  // before the first call arrives. Bad options make none; Start() reports them.
  if (!ValidateEngineOptions(options_).ok()) return;
  for (int i = 0; i < options_.completion_queues; ++i) {
    queues_.push_back(std::make_unique<internal::QueueContext>(builder_.AddCompletionQueue()));
  }
}

Engine::~Engine() { Shutdown(); }

internal::ServiceEntry* Engine::FindOrAddService(
    const std::string& full_name,
    const std::function<std::unique_ptr<grpc::Service>(int method_count)>& make_raw) {
  for (const auto& entry : services_) {
    if (entry->full_name == full_name) return entry.get();
  }
  auto entry = std::make_unique<internal::ServiceEntry>();
  entry->full_name = full_name;
  if (absl::StatusOr<const google::protobuf::ServiceDescriptor*> descriptor =
          internal::FindGeneratedService(full_name);
      descriptor.ok()) {
    entry->descriptor = *descriptor;
  } else if (registration_error_.ok()) {
    registration_error_ = descriptor.status();
  }
  entry->handled.assign(entry->method_count(), false);
  entry->raw = make_raw(entry->method_count());
  builder_.RegisterService(entry->raw.get());
  services_.push_back(std::move(entry));
  return services_.back().get();
}

void Engine::AddMethod(internal::ServiceEntry* service, int index,
                       const google::protobuf::Descriptor& request,
                       const google::protobuf::Descriptor& response, internal::RpcKind kind,
                       SlotFactory make_slot, std::shared_ptr<const void> handler,
                       const MethodOptions& options) {
  auto record = [this](absl::Status error) {
    if (registration_error_.ok()) registration_error_ = std::move(error);
  };
  if (service->descriptor == nullptr) return;  // recorded by FindOrAddService
  if (index < 0 || index >= service->method_count()) {
    record(absl::InvalidArgumentError(
        absl::StrCat("a method registered on ", service->full_name, " is not one of its methods")));
    return;
  }
  const google::protobuf::MethodDescriptor& descriptor = *service->descriptor->method(index);
  if (absl::Status matches = internal::CheckMethodSignature(descriptor, request, response, kind);
      !matches.ok()) {
    record(std::move(matches));
    return;
  }
  if (service->handled[index]) {
    record(absl::InvalidArgumentError(
        absl::StrCat(internal::FullMethodName(descriptor), " is registered twice")));
    return;
  }
  service->handled[index] = true;
  auto method = std::make_unique<Method>();
  method->name = internal::FullMethodName(descriptor);
  method->streaming = kind == internal::RpcKind::kServerStream;
  method->requests_posted =
      options.requests_posted > 0 ? options.requests_posted : options_.requests_per_method;
  method->make_slot = std::move(make_slot);
  method->handler = std::move(handler);
  method->limits.max_calls_per_peer = options_.max_calls_per_peer;
  method->limits.peers = &peer_calls_;
  method->limits.max_in_flight = options.max_in_flight;
  method->limits.method_in_flight = &method->in_flight;
  for (int i = 0; i < options_.completion_queues; ++i) {
    method->counters.push_back(std::make_unique<internal::CallCounters>());
  }
  methods_.push_back(std::move(method));
}

absl::Status Engine::CheckRegistrations() const {
  if (!registration_error_.ok()) return registration_error_;
  for (const auto& service : services_) {
    if (absl::Status handled = internal::CheckEveryMethodHandled(*service); !handled.ok()) {
      return handled;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Engine::Start(const std::string& listen_address,
                                  std::shared_ptr<grpc::ServerCredentials> credentials) {
  absl::MutexLock lock(&lifecycle_mu_);
  if (start_attempted_) {
    return absl::FailedPreconditionError(started_ ? "the engine was already started"
                                                  : "Start() failed before; build a new Engine");
  }
  start_attempted_ = true;
  if (absl::Status valid = ValidateEngineOptions(options_); !valid.ok()) return valid;
  if (absl::Status registered = CheckRegistrations(); !registered.ok()) {
    spdlog::error("engine not started: {}", std::string(registered.message()));
    CloseUnusedQueues();
    return registered;
  }
  int bound_port = 0;
  // Without this gRPC sets SO_REUSEPORT, and a second server on a busy port
  // would silently share it instead of failing.
  builder_.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder_.AddListeningPort(listen_address, std::move(credentials), &bound_port);
  server_ = builder_.BuildAndStart();
  if (server_ == nullptr || bound_port == 0) {
    server_.reset();
    CloseUnusedQueues();
    return absl::UnavailableError(
        absl::StrCat("could not listen on '", listen_address,
                     "': the address is malformed, in use, or not available on this host"));
  }
  started_ = true;
  accepting_calls_.store(true, std::memory_order_release);
  std::int64_t posted_at_start = 0;
  for (const auto& method : methods_) {
    posted_at_start += static_cast<std::int64_t>(method->requests_posted) * queues_.size();
  }
  if (posted_at_start > options_.max_call_slots) {
    spdlog::warn(
        "{} requests are posted at start, more than max_call_slots ({}); no slot will "
        "be added under load",
        posted_at_start, options_.max_call_slots);
  }
  slot_budget_ = std::make_unique<internal::SlotBudget>(options_.max_call_slots);
  for (const auto& method : methods_) {
    if (options_.authorizer != nullptr) {
      method->limits.authorizer = options_.authorizer->ForMethod(method->name);
    }
    if (options_.observer != nullptr) {
      method->observer = options_.observer->ObserveMethod(
          method->name,
          method->streaming ? engine::RpcType::kServerStream : engine::RpcType::kUnary);
    }
    for (size_t q = 0; q < queues_.size(); ++q) {
      internal::CallEnvironment env{queues_[q].get(),  method->counters[q].get(),
                                    &accepting_calls_, method->observer,
                                    nullptr,           &method->limits};
      auto pool = std::make_unique<internal::SlotPool>(
          [m = method.get(), env](internal::SlotPool* own_pool) {
            internal::CallEnvironment slot_env = env;
            slot_env.pool = own_pool;
            return m->make_slot(slot_env);
          },
          method->requests_posted, slot_budget_.get());
      method->pools.push_back(std::move(pool));
    }
  }
  for (const auto& method : methods_) {
    for (auto& pool : method->pools) pool->Start();
  }
  // Made before the queue threads exist, like the slots: their tags then
  // reach those threads with a happens-before edge every tool can see.
  for (size_t q = 0; q < queues_.size(); ++q) barriers_.push_back(std::make_unique<QueueBarrier>());
  for (size_t q = 0; q < queues_.size(); ++q) {
    threads_.emplace_back([this, queue = queues_[q].get(), q] {
      pthread_setname_np(pthread_self(), absl::StrCat("cq-", q).c_str());
      RunQueue(queue);
    });
  }
  return bound_port;
}

void Engine::CloseUnusedQueues() {
  // No call was served, so no client set up on the queues can have started
  // an operation, and they can simply be shut down and drained here. They
  // stay allocated (closed) until the destructor, because such a client may
  // still hold their addresses.
  for (auto& queue : queues_) {
    queue->Close();
    // Not Tag::Next: this thread must not pass for the queues' drainer, or a
    // client on them could not be shut down from it afterwards.
    Tag::DiscardAllAfterShutdown(queue->cq());
  }
}

void Engine::RunQueue(internal::QueueContext* queue) {
  on_queue_thread = true;
  ScopedWriteCoalescing coalescing(options_.coalesce_writes);
  Tag::CompleteAllUntilShutdown(queue->cq());
}

void Engine::Shutdown() {
  // Checked before taking the lock: a queue thread blocked on it while
  // another thread shuts down would deadlock that thread's join instead.
  if (on_queue_thread) {
    spdlog::critical("Engine::Shutdown called on a completion-queue thread; it would deadlock");
    std::abort();
  }
  absl::MutexLock lock(&lifecycle_mu_);
  if (!started_ || shut_down_) return;
  shut_down_ = true;
  const absl::Time started = absl::Now();

  // 1. No new requests are posted from here on; open streams flush and end.
  accepting_calls_.store(false, std::memory_order_release);
  for (const auto& method : methods_) {
    if (!method->streaming) continue;
    for (auto& pool : method->pools) pool->BeginShutdown();
  }

  // 2. Let in-flight calls finish until the deadline, then gRPC cancels them.
  server_->Shutdown(absl::ToChronoTime(started + options_.drain_deadline));

  // 3. Handlers that still hold a responder get one more drain period.
  const absl::Time handler_deadline = absl::Now() + options_.drain_deadline;
  while (Stats().handlers_running > 0 && absl::Now() < handler_deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  if (int64_t running = Stats().handlers_running; running > 0) {
    spdlog::error(
        "{} handler(s) did not finish within the drain deadline; their answers "
        "will be dropped",
        running);
  }

  // Clients running on the queues end their operations while the queue
  // threads still serve them.
  for (const std::function<void()>& hook : before_queues_close_) hook();

  // 4. A barrier on each queue: events gRPC queued before Server::Shutdown
  //    returned (a request matched at the last moment) are handled while the
  //    queue is still open, because handling a matched request makes gRPC
  //    itself start an operation (the call-done watcher) on the queue.
  for (size_t q = 0; q < queues_.size(); ++q) barriers_[q]->Arm(*queues_[q]);
  for (auto& barrier : barriers_) {
    if (!barrier->Wait(options_.drain_deadline)) {
      spdlog::error("a completion-queue thread did not reach the shutdown barrier within {}",
                    absl::FormatDuration(options_.drain_deadline));
    }
  }

  // 5. Close every queue and drain it; each Next() returning false proves all
  //    tags of that queue came back. Nothing is freed here: slots, server and
  //    queues go in ~Engine, so a responder finished late (counted as
  //    abandoned) still finds its slot.
  for (auto& queue : queues_) queue->Close();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  for (const auto& method : methods_) {
    for (auto& pool : method->pools) pool->RetireIdle();
  }
  spdlog::info("engine drained in {}", absl::FormatDuration(absl::Now() - started));
}

std::vector<grpc::CompletionQueue*> Engine::completion_queues() const {
  std::vector<grpc::CompletionQueue*> queues;
  queues.reserve(queues_.size());
  for (const auto& queue : queues_) queues.push_back(queue->cq());
  return queues;
}

void Engine::RunBeforeQueuesClose(std::function<void()> hook) {
  absl::MutexLock lock(&lifecycle_mu_);
  if (shut_down_) {
    spdlog::error("RunBeforeQueuesClose after Shutdown(): the hook will never run");
    return;
  }
  before_queues_close_.push_back(std::move(hook));
}

void Engine::Accumulate(const internal::CallCounters& c, EngineStats& s) {
  auto get = [](const std::atomic<std::int64_t>& v) { return v.load(std::memory_order_relaxed); };
  s.requests_posted += get(c.requests_posted);
  s.requests_failed += get(c.requests_failed);
  s.calls_started += get(c.calls_started);
  s.bad_requests += get(c.bad_requests);
  s.handlers_running += get(c.handlers_running);
  s.finishes_ok += get(c.finishes_ok);
  s.finishes_failed += get(c.finishes_failed);
  s.writes_ok += get(c.writes_ok);
  s.writes_failed += get(c.writes_failed);
  s.wakes += get(c.wakes);
  s.cancelled += get(c.cancelled);
  s.abandoned += get(c.abandoned);
  s.slots_retired += get(c.slots_retired);
  s.shed += get(c.shed);
  s.reset += get(c.reset);
  s.denied += get(c.denied);
}

EngineStats Engine::Stats() const {
  return StatsOf([](const Method&) { return true; });
}

EngineStats Engine::MethodStats(const std::string& method_name) const {
  return StatsOf([&](const Method& method) { return method.name == method_name; });
}

EngineStats Engine::StatsOf(const std::function<bool(const Method&)>& include) const {
  EngineStats stats;
  for (const auto& method : methods_) {
    if (!include(*method)) continue;
    for (const auto& counters : method->counters) Accumulate(*counters, stats);
    for (const auto& pool : method->pools) stats.slots += pool->size();
  }
  return stats;
}

}  // namespace engine
