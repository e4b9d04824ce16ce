#include "test/loopback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "test/callback_queue_pin.h"

namespace testing_util {

std::string LoopbackTarget(int port) { return absl::StrCat("127.0.0.1:", port); }

std::shared_ptr<grpc::Channel> LoopbackChannel(int port, int connection) {
  PinGrpcCallbackQueue();
  grpc::ChannelArguments args;
  args.SetInt("test.connection_index", connection);
  return grpc::CreateCustomChannel(LoopbackTarget(port), grpc::InsecureChannelCredentials(), args);
}

namespace {

// A socket connected to 127.0.0.1:port, or -1.
int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void SetIoTimeout(int fd, absl::Duration timeout) {
  const timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

}  // namespace

bool ScrapeMetricsUntil(int port, const std::vector<std::string>& lines, std::string* text) {
  return WaitUntil([&] {
    *text = HttpGet(port, "/metrics");
    return std::all_of(lines.begin(), lines.end(),
                       [&](const std::string& line) { return absl::StrContains(*text, line); });
  });
}

IdleTcpConnection::IdleTcpConnection(int port, const std::string& greeting)
    : fd_(ConnectLoopback(port)) {
  if (fd_ >= 0 && !greeting.empty()) {
    if (write(fd_, greeting.data(), greeting.size()) != static_cast<ssize_t>(greeting.size())) {
      close(fd_);
      fd_ = -1;
    }
  }
}

IdleTcpConnection::~IdleTcpConnection() {
  if (fd_ >= 0) close(fd_);
}

bool IdleTcpConnection::ClosedByServerWithin(absl::Duration timeout) {
  if (fd_ < 0) return false;
  SetIoTimeout(fd_, timeout);
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd_, buffer, sizeof(buffer));
    if (n == 0) return true;                // orderly close
    if (n < 0) return errno == ECONNRESET;  // reset: closed; timeout: still open
  }
}

std::string HttpGet(int port, const std::string& path, absl::Duration timeout) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return "";
  SetIoTimeout(fd, timeout);
  std::string response;
  {
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
