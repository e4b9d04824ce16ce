// Calls the Greeter example server: SayHello once, then SayHelloStream,
// printing each reply on a line of its own. A failed call prints its status
// code (as a number) and message to stderr and exits with status 1.
//
//   greeter_client --target=127.0.0.1:50051 --name=world --count=3
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "helloworld.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "host:port of the Greeter server");
ABSL_FLAG(std::string, name, "world", "who to greet");
ABSL_FLAG(int, count, 3, "how many greetings to ask SayHelloStream for");

namespace {

int Fail(const char* method, const grpc::Status& status) {
  std::cerr << method << " failed: code " << status.error_code() << ": " << status.error_message()
            << "\n";
  return 1;
}

// Every call has a deadline: a client without one can wait forever.
void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::unique_ptr<helloworld::Greeter::Stub> greeter = helloworld::Greeter::NewStub(
      grpc::CreateChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials()));
  helloworld::HelloRequest request;
  request.set_name(absl::GetFlag(FLAGS_name));
  request.set_count(absl::GetFlag(FLAGS_count));
  helloworld::HelloReply reply;

  grpc::ClientContext unary;
  SetDeadline(unary);
  if (grpc::Status status = greeter->SayHello(&unary, request, &reply); !status.ok()) {
    return Fail("SayHello", status);
  }
  std::cout << reply.message() << "\n";

  grpc::ClientContext stream;
  SetDeadline(stream);
  std::unique_ptr<grpc::ClientReader<helloworld::HelloReply>> replies =
      greeter->SayHelloStream(&stream, request);
  while (replies->Read(&reply)) std::cout << reply.message() << "\n";
  if (grpc::Status status = replies->Finish(); !status.ok()) {
    return Fail("SayHelloStream", status);
  }
  return 0;
}
