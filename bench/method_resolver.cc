#include "bench/method_resolver.h"

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <grpcpp/client_context.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/impl/codegen/sync_stream.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "reflection_client.pb.h"

namespace bench {

namespace pb = google::protobuf;

namespace {

constexpr char kReflectionPath[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// Collects the compiler's errors as "file:line:column: message" lines.
class CollectingErrors final : public pb::compiler::MultiFileErrorCollector,
                               public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, int line, int column,
                const std::string& message) override {
    // line is 0-based, -1 for errors about the file as a whole.
    if (line < 0) {
      lines_.push_back(absl::StrCat(filename, ": ", message));
    } else {
      lines_.push_back(absl::StrCat(filename, ":", line + 1, ":", column + 1, ": ", message));
    }
  }
  void AddError(const std::string& filename, const std::string& element_name, const pb::Message*,
                ErrorLocation, const std::string& message) override {
    lines_.push_back(absl::StrCat(filename, ": ", element_name, ": ", message));
  }
  std::string Text() const { return absl::StrJoin(lines_, "; "); }
  bool empty() const { return lines_.empty(); }

 private:
  std::vector<std::string> lines_;
};

std::string ListOrNone(const std::vector<std::string>& names) {
  return names.empty() ? std::string("none") : absl::StrJoin(names, ", ");
}

}  // namespace

struct MethodResolver::Sources {
  pb::compiler::DiskSourceTree tree;
  CollectingErrors errors;
  std::unique_ptr<pb::compiler::Importer> importer;
  pb::SimpleDescriptorDatabase database;
  std::unique_ptr<pb::DescriptorPool> pool;
  std::vector<std::string> services;  // every service the source defines

  // Adds the files (a protoset's, or a server's by reflection) to a pool of
  // their own. Every import must be among them.
  absl::Status AddFiles(const std::vector<pb::FileDescriptorProto>& files,
                        const std::string& source) {
    std::set<std::string> names;
    for (const auto& file : files) names.insert(file.name());
    for (const auto& file : files) {
      for (const std::string& dependency : file.dependency()) {
        if (names.count(dependency) == 0) {
          return absl::FailedPreconditionError(
              absl::StrCat(source, ": ", file.name(), " imports ", dependency,
                           ", which is not there (make a protoset with protoc "
                           "--include_imports)"));
        }
      }
      for (const auto& service : file.service()) {
        services.push_back(file.package().empty()
                               ? service.name()
                               : absl::StrCat(file.package(), ".", service.name()));
      }
      if (!database.Add(file)) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": ", file.name(), " is defined twice or conflicts"));
      }
    }
    pool = std::make_unique<pb::DescriptorPool>(&database, &errors);
    // Builds every file now, so a broken one fails before the run.
    for (const auto& file : files) {
      if (pool->FindFileByName(file.name()) == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": ", file.name(), " does not build: ", errors.Text()));
      }
    }
    return absl::OkStatus();
  }
};

MethodResolver::~MethodResolver() = default;

absl::StatusOr<CallName> ParseCallName(absl::string_view call) {
  absl::string_view name = absl::StripPrefix(call, "/");
  std::size_t split = name.rfind('/');
  if (split == absl::string_view::npos) split = name.rfind('.');  // ghz: package.Service.Method
  if (split == absl::string_view::npos || split == 0 || split + 1 == name.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--call '", call, "' is not package.Service/Method (or package.Service.Method)"));
  }
  CallName out;
  out.service = std::string(name.substr(0, split));
  out.method = std::string(name.substr(split + 1));
  if (out.service.find('/') != std::string::npos || out.method.find('.') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--call '", call, "' is not package.Service/Method (or package.Service.Method)"));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<MethodResolver>> MethodResolver::FromProtoFiles(
    const std::vector<std::string>& proto_files, const std::vector<std::string>& import_paths) {
  if (proto_files.empty()) return absl::InvalidArgumentError("no --proto file given");
  std::unique_ptr<MethodResolver> resolver(new MethodResolver);
  resolver->sources_ = std::make_unique<Sources>();
  Sources& s = *resolver->sources_;
  for (const std::string& path : import_paths) {
    if (!std::filesystem::is_directory(path)) {
      return absl::NotFoundError(absl::StrCat("--import_path ", path, " is not a directory"));
    }
    s.tree.MapPath("", path);
  }
  // Each file by its name under an import path; a file on disk under none
  // of them is found through its own directory.
  std::vector<std::string> virtual_names;
  for (const std::string& file : proto_files) {
    std::string virtual_name = file;
    if (std::filesystem::is_regular_file(file)) {
      std::string shadowing;
      auto mapped = s.tree.DiskFileToVirtualFile(file, &virtual_name, &shadowing);
      if (mapped == pb::compiler::DiskSourceTree::NO_MAPPING) {
        const std::filesystem::path disk(file);
        s.tree.MapPath("", disk.has_parent_path() ? disk.parent_path().string() : ".");
        mapped = s.tree.DiskFileToVirtualFile(file, &virtual_name, &shadowing);
      }
      if (mapped == pb::compiler::DiskSourceTree::SHADOWED) {
        return absl::InvalidArgumentError(absl::StrCat("--proto ", file, " is shadowed by ",
                                                       shadowing, " (same name, earlier path)"));
      }
      if (mapped != pb::compiler::DiskSourceTree::SUCCESS) virtual_name = file;
    }
    std::unique_ptr<pb::io::ZeroCopyInputStream> probe(s.tree.Open(virtual_name));
    if (probe == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          "--proto ", file, ": file not found",
          import_paths.empty()
              ? std::string()
              : absl::StrCat(" (import paths: ", absl::StrJoin(import_paths, ", "), ")")));
    }
    virtual_names.push_back(virtual_name);
  }
  s.importer = std::make_unique<pb::compiler::Importer>(&s.tree, &s.errors);
  for (std::size_t i = 0; i < virtual_names.size(); ++i) {
    const pb::FileDescriptor* file = s.importer->Import(virtual_names[i]);
    if (file == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--proto ", proto_files[i], " does not parse: ", s.errors.Text()));
    }
    for (int k = 0; k < file->service_count(); ++k)
      s.services.push_back(file->service(k)->full_name());
  }
  resolver->pool_ = s.importer->pool();
  resolver->source_ = absl::StrCat("proto files ", absl::StrJoin(proto_files, ", "));
  return resolver;
}

absl::StatusOr<std::unique_ptr<MethodResolver>> MethodResolver::FromProtoset(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("--protoset ", path, ": cannot open the file"));
  std::stringstream bytes;
  bytes << in.rdbuf();
  pb::FileDescriptorSet set;
  if (!set.ParseFromString(bytes.str()) || set.file_size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--protoset ", path,
        " is not a serialized FileDescriptorSet (make one with protoc --descriptor_set_out=FILE "
        "--include_imports)"));
  }
  std::unique_ptr<MethodResolver> resolver(new MethodResolver);
  resolver->sources_ = std::make_unique<Sources>();
  resolver->source_ = absl::StrCat("protoset ", path);
  std::vector<pb::FileDescriptorProto> files(set.file().begin(), set.file().end());
  if (absl::Status added = resolver->sources_->AddFiles(files, resolver->source_); !added.ok()) {
    return added;
  }
  resolver->pool_ = resolver->sources_->pool.get();
  return resolver;
}

absl::StatusOr<std::unique_ptr<MethodResolver>> MethodResolver::FromReflection(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& target,
    const std::string& service, absl::Duration timeout) {
  using loadtool::reflection::ServerReflectionRequest;
  using loadtool::reflection::ServerReflectionResponse;
  const auto deadline = std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout);
  if (!channel->WaitForConnected(deadline)) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", target, " within ",
                                               absl::FormatDuration(timeout),
                                               " (to ask it by reflection for ", service, ")"));
  }
  grpc::ClientContext context;
  context.set_deadline(deadline);
  const grpc::internal::RpcMethod method(kReflectionPath,
                                         grpc::internal::RpcMethod::BIDI_STREAMING);
  std::unique_ptr<grpc::ClientReaderWriter<ServerReflectionRequest, ServerReflectionResponse>>
      stream(grpc::internal::ClientReaderWriterFactory<
             ServerReflectionRequest, ServerReflectionResponse>::Create(channel.get(), method,
                                                                        &context));
  // One request, one response; a failed call ends the exchange and its
  // status says why.
  auto ask = [&](const ServerReflectionRequest& request,
                 ServerReflectionResponse* response) -> absl::Status {
    if (stream->Write(request) && stream->Read(response)) return absl::OkStatus();
    stream->WritesDone();
    const grpc::Status status = stream->Finish();
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      return absl::FailedPreconditionError(
          absl::StrCat(target,
                       " does not serve gRPC server reflection (grpc.reflection.v1alpha): pass the "
                       "method's definition with --proto FILE or --protoset FILE"));
    }
    return absl::UnavailableError(absl::StrCat(
        "reflection request to ", target,
        " failed: ", absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
        ": ", status.error_message()));
  };

  std::map<std::string, pb::FileDescriptorProto> files;
  std::deque<std::string> wanted;  // file names still to ask for
  auto take_files = [&](const ServerReflectionResponse& response) -> absl::Status {
    for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
      pb::FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) {
        return absl::InvalidArgumentError(
            absl::StrCat(target, " sent a file descriptor that does not parse"));
      }
      const std::string name = file.name();
      files.emplace(name, std::move(file));
    }
    for (const auto& [name, file] : files) {
      for (const std::string& dependency : file.dependency()) {
        if (files.count(dependency) == 0) wanted.push_back(dependency);
      }
    }
    return absl::OkStatus();
  };

  ServerReflectionRequest request;
  ServerReflectionResponse response;
  request.set_file_containing_symbol(service);
  if (absl::Status asked = ask(request, &response); !asked.ok()) return asked;
  if (response.has_error_response()) {
    std::vector<std::string> services;
    ServerReflectionRequest list;
    list.set_list_services("*");
    ServerReflectionResponse listed;
    if (ask(list, &listed).ok()) {
      for (const auto& s : listed.list_services_response().service()) services.push_back(s.name());
    }
    return absl::NotFoundError(absl::StrCat(
        "service '", service, "' not found on ", target, " by reflection (",
        response.error_response().error_message(), "); it serves: ", ListOrNone(services)));
  }
  if (absl::Status taken = take_files(response); !taken.ok()) return taken;
  while (!wanted.empty()) {
    const std::string name = wanted.front();
    wanted.pop_front();
    if (files.count(name) != 0) continue;
    request.set_file_by_filename(name);
    if (absl::Status asked = ask(request, &response); !asked.ok()) return asked;
    if (response.has_error_response()) {
      return absl::NotFoundError(absl::StrCat(
          target, " has no file ", name,
          " by reflection, which its files import: ", response.error_response().error_message()));
    }
    if (absl::Status taken = take_files(response); !taken.ok()) return taken;
  }
  stream->WritesDone();
  (void)stream->Finish();

  std::unique_ptr<MethodResolver> resolver(new MethodResolver);
  resolver->sources_ = std::make_unique<Sources>();
  resolver->source_ = absl::StrCat("reflection of ", target);
  std::vector<pb::FileDescriptorProto> list;
  for (auto& [name, file] : files) list.push_back(std::move(file));
  if (absl::Status added = resolver->sources_->AddFiles(list, resolver->source_); !added.ok()) {
    return added;
  }
  resolver->pool_ = resolver->sources_->pool.get();
  return resolver;
}

absl::StatusOr<const pb::MethodDescriptor*> MethodResolver::FindMethod(const CallName& call) const {
  const pb::ServiceDescriptor* service = pool_->FindServiceByName(call.service);
  if (service == nullptr) {
    return absl::NotFoundError(absl::StrCat("service '", call.service, "' not found in ", source_,
                                            "; services there: ", ListOrNone(sources_->services)));
  }
  const pb::MethodDescriptor* method = service->FindMethodByName(call.method);
  if (method == nullptr) {
    std::vector<std::string> methods;
    for (int i = 0; i < service->method_count(); ++i) methods.push_back(service->method(i)->name());
    return absl::NotFoundError(absl::StrCat("service ", call.service, " has no method '",
                                            call.method, "'; its methods: ", ListOrNone(methods)));
  }
  if (method->client_streaming()) {
    return absl::UnimplementedError(
        absl::StrCat(call.display(), " is a ",
                     method->server_streaming() ? "bidirectional streaming" : "client-streaming",
                     " method; the load tool calls unary and server-streaming methods only"));
  }
  return method;
}

}  // namespace bench
