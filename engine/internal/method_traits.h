// What the engine learns from a generated `&Service::AsyncService::RequestX`
// pointer: the request and response types, the kind of RPC, and (at run time)
// the method's index in its service. Internal: users pass the pointer to
// ServiceRegistration and never name these traits.
#ifndef ENGINE_INTERNAL_METHOD_TRAITS_H_
#define ENGINE_INTERNAL_METHOD_TRAITS_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_stream.h>
#include <grpcpp/support/async_unary_call.h>

#include <type_traits>

namespace engine::internal {

enum class RpcKind { kUnary, kServerStream };

// Undefined for anything but the generated RequestX of a unary or
// server-streaming method (client-streaming and bidi methods are not served
// by this engine); `kSupported` tells which without a hard error.
template <class RequestMethod>
struct MethodTraits {
  static constexpr bool kSupported = false;
};

// The generated typed request function of a unary method:
//   void RequestX(ServerContext*, Req*, ServerAsyncResponseWriter<Resp>*,
//                 CompletionQueue*, ServerCompletionQueue*, <tag>)
template <class Wrapper, class Req, class Resp, class TagArg>
struct MethodTraits<void (Wrapper::*)(
    grpc::ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*, grpc::CompletionQueue*,
    grpc::ServerCompletionQueue*, TagArg)> {
  static constexpr bool kSupported = true;
  static constexpr RpcKind kKind = RpcKind::kUnary;
  using WrapperClass = Wrapper;
  using Request = Req;
  using Response = Resp;
};

// The same for a server-streaming method (ServerAsyncWriter<Resp>).
template <class Wrapper, class Req, class Resp, class TagArg>
struct MethodTraits<void (Wrapper::*)(grpc::ServerContext*, Req*, grpc::ServerAsyncWriter<Resp>*,
                                      grpc::CompletionQueue*, grpc::ServerCompletionQueue*,
                                      TagArg)> {
  static constexpr bool kSupported = true;
  static constexpr RpcKind kKind = RpcKind::kServerStream;
  using WrapperClass = Wrapper;
  using Request = Req;
  using Response = Resp;
};

// The generated per-method wrapper `Service::WithAsyncMethod_X<Base>` a
// RequestX belongs to, rebuilt on another base.
template <class Wrapper>
struct RebindWrapper;
template <template <class> class Wrapper, class Base>
struct RebindWrapper<Wrapper<Base>> {
  template <class NewBase>
  using On = Wrapper<NewBase>;
};

// The generated service `Generated::Service` with every method except
// `probed` marked raw. Constructing a method's wrapper on top of it marks
// that wrapper's own method async; exactly when that method is `probed` no
// synchronous method is left. This is how the engine finds a RequestX's
// method index using only gRPC's public and protected service API.
template <class Generated>
class MethodIndexProbe : public Generated::Service {
 public:
  MethodIndexProbe() {
    for (int i = 0; i < method_count(); ++i) {
      if (i != probed()) this->MarkMethodRaw(i);
    }
  }
  static int& probed() {
    static thread_local int index = 0;
    return index;
  }
  static int& method_count() {
    static thread_local int count = 0;
    return count;
  }
};

// The index of `RequestMethod`'s method within `Generated`, whose service
// has `method_count` methods; -1 if none matches (cannot happen for
// generated code of the same service).
template <class Generated, class RequestMethod>
int MethodIndexOf(int method_count) {
  using Probe = MethodIndexProbe<Generated>;
  using Wrapped = typename RebindWrapper<
      typename MethodTraits<RequestMethod>::WrapperClass>::template On<Probe>;
  Probe::method_count() = method_count;
  for (int i = 0; i < method_count; ++i) {
    Probe::probed() = i;
    Wrapped probe;
    if (!probe.has_synchronous_methods()) return i;
  }
  return -1;
}

// `Generated::Service` with every method raw, so that no method can fall back
// to gRPC's synchronous thread pool, and a typed way for the engine to post
// requests by method index.
template <class Generated>
class RawService final : public Generated::Service {
 public:
  explicit RawService(int method_count) {
    for (int i = 0; i < method_count; ++i) this->MarkMethodRaw(i);
  }

  template <class TagPtr>
  void RequestUnary(int index, grpc::ServerContext* context, grpc::ByteBuffer* request,
                    grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>* writer,
                    grpc::ServerCompletionQueue* cq, TagPtr tag) {
    this->RequestAsyncUnary(index, context, request, writer, cq, cq, tag->ToCompletionQueueTag());
  }

  template <class TagPtr>
  void RequestServerStream(int index, grpc::ServerContext* context, grpc::ByteBuffer* request,
                           grpc::ServerAsyncWriter<grpc::ByteBuffer>* writer,
                           grpc::ServerCompletionQueue* cq, TagPtr tag) {
    this->RequestAsyncServerStreaming(index, context, request, writer, cq, cq,
                                      tag->ToCompletionQueueTag());
  }
};

}  // namespace engine::internal

#endif  // ENGINE_INTERNAL_METHOD_TRAITS_H_
