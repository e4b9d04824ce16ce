// Baseline async gRPC server: the performance yardstick for the InventoryService.
//
// This file exists only to be measured against. It serves
// inventory.InventoryService/GetProductAvailability the plain way gRPC's own
// async example does (one heap-allocated CallData per call, each arriving
// request posts its successor, deleted after Finish), spread over N completion
// queues with one thread each. The answer is hard-coded like the seed article:
// "product123" is available with quantity 10, everything else is not. The real
// server's throughput goal is stated relative to this program, so keep it
// simple and do not add features. Only GetProductAvailability is requested;
// calls to other methods of the async service wait until shutdown.
//
// One departure from the example: completion-queue tags are engine::Tag
// objects (engine/tag.h, the project's one type for them), not the
// CallData pointer itself, cast to a raw tag and back. That costs one
// virtual call per event and changes nothing else.
//
// Usage: baseline_async_server [--listen=HOST:PORT] [--cqs=N]
//   --listen  address to bind (default 0.0.0.0:50061; port 0 picks a free one)
//   --cqs     number of completion queues and threads (default: hardware threads)
// Prints "baseline listening on HOST:PORT" once serving. SIGTERM or SIGINT
// shuts down cleanly with exit status 0.

#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/tag.h"
#include "inventory.grpc.pb.h"

namespace {

using inventory::GetProductAvailabilityRequest;
using inventory::GetProductAvailabilityResponse;
using inventory::InventoryService;

// One in-flight call. Its tag_ marks both of its events: the request
// arriving, then Finish completing.
class CallData final : public engine::CompletionHandler {
 public:
  CallData(InventoryService::AsyncService* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq), responder_(&ctx_) {
    service_->RequestGetProductAvailability(&ctx_, &request_, &responder_, cq_, cq_,
                                            tag_.ToCompletionQueueTag());
  }

  // Called with the result of the event this call was waiting for.
  void OnCompletion(engine::CompletionKind, bool ok) override {
    if (finishing_ || !ok) {
      // Finish is done, or the request was cancelled by server shutdown.
      delete this;
      return;
    }
    new CallData(service_, cq_);  // keep one request posted on this queue
    GetProductAvailabilityResponse reply;
    if (request_.product_id() == "product123") {
      reply.set_is_available(true);
      reply.set_quantity(10);
    }
    finishing_ = true;
    responder_.Finish(reply, grpc::Status::OK, tag_.ToCompletionQueueTag());
  }

 private:
  InventoryService::AsyncService* service_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext ctx_;
  GetProductAvailabilityRequest request_;
  grpc::ServerAsyncResponseWriter<GetProductAvailabilityResponse> responder_;
  bool finishing_ = false;
  engine::Tag tag_{this, engine::CompletionKind::kOperation};
};

void Serve(InventoryService::AsyncService* service, grpc::ServerCompletionQueue* cq) {
  new CallData(service, cq);
  engine::Tag::CompleteAllUntilShutdown(cq);
}

bool TakeFlag(const std::string& arg, const std::string& name, std::string* value) {
  const std::string prefix = "--" + name + "=";
  if (arg.compare(0, prefix.size(), prefix) != 0) return false;
  *value = arg.substr(prefix.size());
  return true;
}

[[noreturn]] void Usage(const char* argv0) {
  std::cerr << "usage: " << argv0 << " [--listen=HOST:PORT] [--cqs=N]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "0.0.0.0:50061";
  unsigned cqs = std::thread::hardware_concurrency();
  for (int i = 1; i < argc; ++i) {
    std::string value;
    if (TakeFlag(argv[i], "listen", &value)) {
      listen = value;
    } else if (TakeFlag(argv[i], "cqs", &value)) {
      char* end = nullptr;
      unsigned long n = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n == 0 || n > 1024) Usage(argv[0]);
      cqs = static_cast<unsigned>(n);
    } else {
      Usage(argv[0]);
    }
  }
  if (cqs == 0) cqs = 1;

  // Block the shutdown signals before any thread exists, so every thread
  // (ours and gRPC's) inherits the mask and only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  InventoryService::AsyncService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;
  for (unsigned i = 0; i < cqs; ++i) queues.push_back(builder.AddCompletionQueue());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "baseline: cannot listen on " << listen << "\n";
    return 1;
  }

  std::vector<std::thread> threads;
  for (auto& cq : queues) threads.emplace_back(Serve, &service, cq.get());

  std::string host = listen.substr(0, listen.rfind(':'));
  std::cerr << "baseline: " << cqs << " completion queues\n";
  std::cout << "baseline listening on " << host << ":" << port << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);

  // Server first: pending requests come back with ok=false and in-flight calls
  // finish. Only then the queues, which the threads drain before returning.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  for (auto& cq : queues) cq->Shutdown();
  for (auto& t : threads) t.join();
  std::cout << "baseline stopped by signal " << sig << std::endl;
  return 0;
}
