// Helpers shared by the integration tests. Waits here are hang guards with
// generous bounds, never performance thresholds.
#ifndef TEST_TEST_UTIL_H_
#define TEST_TEST_UTIL_H_

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/callback_queue_pin.h"

namespace testing_util {

// Polls `done` until it holds or `limit` passes; returns its last value.
inline bool WaitUntil(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(30)) {
  const absl::Time give_up = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// A channel to 127.0.0.1:port. Channels with different `connection` values
// get their own HTTP/2 connection (identical arguments would share one).
inline std::shared_ptr<grpc::Channel> LoopbackChannel(int port, int connection = 0) {
  client::PinGrpcCallbackQueue();  // tests create and drop channels per case
  grpc::ChannelArguments args;
  args.SetInt("test.connection_index", connection);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), args);
}

inline std::chrono::system_clock::time_point DeadlineIn(absl::Duration duration) {
  return absl::ToChronoTime(absl::Now() + duration);
}

// The body of GET http://127.0.0.1:port/path (HTTP/1.0, so the server
// closes the connection after the response), or "" if it cannot connect.
inline std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, n);
    }
  }
  close(fd);
  const std::size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

}  // namespace testing_util

#endif  // TEST_TEST_UTIL_H_
