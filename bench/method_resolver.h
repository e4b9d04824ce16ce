// Resolves a gRPC method named on the load tool's command line
// (--call package.Service/Method) to its protobuf descriptors at run time,
// from one of three sources:
//   * .proto files, parsed with protobuf's compiler library (Importer on a
//     DiskSourceTree of the import paths);
//   * a serialized FileDescriptorSet (protoc --descriptor_set_out
//     --include_imports);
//   * the target server's reflection service (grpc.reflection.v1alpha),
//     asked for the file that defines the service and the files it imports.
// Every failure is an absl::Status whose message names the problem (the
// file, the line and column of a parse error, the service or method that
// is missing and what there is instead), so the tool can refuse to start.
#ifndef BENCH_METHOD_RESOLVER_H_
#define BENCH_METHOD_RESOLVER_H_

#include <google/protobuf/descriptor.h>
#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace bench {

// A --call value split into its service and method. Accepts
// "package.Service/Method", ghz's "package.Service.Method" and a leading
// '/' (the HTTP/2 path). INVALID_ARGUMENT if it has no service or method.
struct CallName {
  std::string service;  // "package.Service"
  std::string method;   // "Method"
  std::string path() const { return "/" + service + "/" + method; }
  std::string display() const { return service + "/" + method; }
};
absl::StatusOr<CallName> ParseCallName(absl::string_view call);

// Descriptors from one source, kept alive as long as this object.
class MethodResolver {
 public:
  // Parses `proto_files` and what they import. A file is a name relative to
  // one of `import_paths`, or a path on disk; a path on disk that lies under
  // none of them adds its own directory after them. NOT_FOUND for a missing
  // file or import path, INVALID_ARGUMENT for a parse error or a missing
  // import (with file:line:column).
  static absl::StatusOr<std::unique_ptr<MethodResolver>> FromProtoFiles(
      const std::vector<std::string>& proto_files, const std::vector<std::string>& import_paths);

  // Reads a serialized FileDescriptorSet. It must hold every file its files
  // import (protoc --include_imports).
  static absl::StatusOr<std::unique_ptr<MethodResolver>> FromProtoset(const std::string& path);

  // Asks `channel`'s server by reflection for the file defining `service`
  // and, transitively, every file that one imports. UNAVAILABLE if the
  // server cannot be reached within `timeout`; FAILED_PRECONDITION, saying
  // to pass --proto or --protoset, if it does not serve reflection;
  // NOT_FOUND, listing the services it has, if it lacks `service`.
  // `target` names the server in messages.
  static absl::StatusOr<std::unique_ptr<MethodResolver>> FromReflection(
      const std::shared_ptr<grpc::Channel>& channel, const std::string& target,
      const std::string& service, absl::Duration timeout);

  // The method; NOT_FOUND naming what is missing (and the services or
  // methods there are), UNIMPLEMENTED for a client-streaming or
  // bidirectional method (only unary and server-streaming methods are
  // loaded: one request per call).
  absl::StatusOr<const google::protobuf::MethodDescriptor*> FindMethod(const CallName& call) const;

  const google::protobuf::DescriptorPool& pool() const { return *pool_; }
  // Where the descriptors came from, for messages ("proto files a.proto",
  // "protoset x.pb", "reflection of host:port").
  const std::string& source() const { return source_; }

  ~MethodResolver();

 private:
  struct Sources;
  MethodResolver() = default;

  std::unique_ptr<Sources> sources_;  // what pool_ reads from
  const google::protobuf::DescriptorPool* pool_ = nullptr;
  std::string source_;
};

}  // namespace bench

#endif  // BENCH_METHOD_RESOLVER_H_
