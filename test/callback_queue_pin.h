// Works around a teardown race in gRPC 1.51's C++ callback API.
//
// gRPC serves callback calls from one process-wide completion queue that is
// reference-counted by the channels that have used it. When the last such
// channel is destroyed the queue is shut down and freed; a channel that
// starts a callback call at that moment races the teardown, and gRPC frees
// the queue twice (seen under ASan, inside gRPC's own threads). Code that
// creates and drops channels repeatedly (tests, the bench) calls this first
// (LoopbackChannel and the fixtures do):
// it keeps one channel that has made a callback call alive until exit, so the
// teardown happens once, at exit.
#ifndef TEST_CALLBACK_QUEUE_PIN_H_
#define TEST_CALLBACK_QUEUE_PIN_H_

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <future>
#include <memory>

namespace testing_util {

inline void PinGrpcCallbackQueue() {
  static const std::shared_ptr<grpc::Channel> pinned = [] {
    // Port 1 on loopback refuses at once; the call only has to be started.
    auto channel = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
    grpc::GenericStub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Slice empty;  // a call needs a valid (if empty) message
    grpc::ByteBuffer request(&empty, 1), response;
    std::promise<void> done;
    stub.UnaryCall(&context, "/pin/Pin", grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status) { done.set_value(); });
    done.get_future().wait();
    return channel;
  }();
  (void)pinned;
}

}  // namespace testing_util

#endif  // TEST_CALLBACK_QUEUE_PIN_H_
