// Talking to a server of the test on loopback: gRPC channels, and a bare
// HTTP GET for metrics endpoints.
#ifndef TEST_LOOPBACK_H_
#define TEST_LOOPBACK_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "test/test_util.h"

namespace testing_util {

// "127.0.0.1:port", the target of a server on an ephemeral loopback port.
std::string LoopbackTarget(int port);

// A channel to 127.0.0.1:port. Channels with different `connection` values
// get their own HTTP/2 connection (identical arguments would share one).
// Pins gRPC's callback queue first (callback_queue_pin.h): tests create and
// drop channels per case.
std::shared_ptr<grpc::Channel> LoopbackChannel(int port, int connection = 0);

// The body of GET http://127.0.0.1:port/path (HTTP/1.0, so the server
// closes the connection after the response), or "" if it cannot connect or
// a read or write waits longer than `timeout`.
std::string HttpGet(int port, const std::string& path, absl::Duration timeout = absl::Seconds(30));

// Scrapes GET /metrics on 127.0.0.1:port until the text contains every one
// of `lines`, or WaitUntil's limit passes (a hang guard); `text` is the last
// scrape. For counters that are bumped just after the client has its answer.
bool ScrapeMetricsUntil(int port, const std::vector<std::string>& lines, std::string* text);

// A TCP connection to 127.0.0.1:port, open until destroyed: a client that
// connects and then says nothing (or only `greeting`). fd() < 0 if it could
// not connect.
class IdleTcpConnection {
 public:
  explicit IdleTcpConnection(int port, const std::string& greeting = "");
  ~IdleTcpConnection();
  IdleTcpConnection(const IdleTcpConnection&) = delete;
  IdleTcpConnection& operator=(const IdleTcpConnection&) = delete;
  int fd() const { return fd_; }
  // True once the server has closed the connection (a read returned 0 or an
  // error) within `timeout`.
  bool ClosedByServerWithin(absl::Duration timeout);

 private:
  int fd_;
};

// One blocking call with a fresh context and a 30 s deadline (a hang
// guard): `rpc(&context, response)` makes it; a null `response` is answered
// into a scratch message. For typed test clients.
template <class Response, class Rpc>
grpc::Status CallWithDeadline(Rpc rpc, Response* response) {
  Response ignored;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(absl::Seconds(30)));
  return rpc(&context, response != nullptr ? response : &ignored);
}

}  // namespace testing_util

#endif  // TEST_LOOPBACK_H_
